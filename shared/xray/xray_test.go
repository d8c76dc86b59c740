package xray_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/shared/xray"
)

const header = "Root=1-581cf771-a006649127e371903a2de979;Parent=70de5b6f19ff9a0b;Sampled=1"

// rig is a daemon (a UDP socket) and an SNS client whose endpoint answers
// with status.
func rig(t *testing.T, status int) (*sns.Client, *net.UDPConn) {
	t.Helper()
	daemon, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { daemon.Close() })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("X-Amzn-Requestid", "req-1")
		w.WriteHeader(status)
		if status == 200 {
			w.Write([]byte(`<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></PublishResponse>`))
			return
		}
		w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>req-2</RequestId></ErrorResponse>`))
	}))
	t.Cleanup(srv.Close)
	e, err := xray.Dial(daemon.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := sns.NewFromConfig(aws.Config{
		Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		APIOptions:  e.APIOptions(),
	})
	return c, daemon
}

func receive(t *testing.T, daemon *net.UDPConn) (xray.Subsegment, bool) {
	t.Helper()
	buf := make([]byte, 65536)
	daemon.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	n, _, err := daemon.ReadFromUDP(buf)
	if err != nil {
		return xray.Subsegment{}, false
	}
	head, doc, ok := bytes.Cut(buf[:n], []byte("\n"))
	if !ok || string(head) != `{"format": "json", "version": 1}` {
		t.Fatalf("datagram %q: want the daemon's header line first", buf[:n])
	}
	var s xray.Subsegment
	if err := json.Unmarshal(doc, &s); err != nil {
		t.Fatal(err)
	}
	return s, true
}

func publish(c *sns.Client, h string) error {
	//lint:ignore SA1029 aws-lambda-go puts the trace header under this string key
	ctx := context.WithValue(context.Background(), "x-amzn-trace-id", h)
	_, err := c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:eu-west-1:111122223333:t"), Message: aws.String("m")})
	return err
}

func TestEveryCallIsASubsegmentOfTheInvocation(t *testing.T) {
	c, daemon := rig(t, 200)
	if err := publish(c, header); err != nil {
		t.Fatal(err)
	}
	s, ok := receive(t, daemon)
	if !ok {
		t.Fatal("no subsegment sent")
	}
	if s.Type != "subsegment" || s.TraceID != "1-581cf771-a006649127e371903a2de979" || s.ParentID != "70de5b6f19ff9a0b" ||
		s.Name != "SNS" || s.Namespace != "aws" || s.AWS.Operation != "Publish" || s.AWS.Region != "eu-west-1" || s.AWS.RequestID != "req-1" ||
		len(s.ID) != 16 || s.HTTP == nil || s.HTTP.Response.Status != 200 || s.Error || s.Fault {
		t.Errorf("subsegment %+v", s)
	}
	if s.StartTime <= 0 || s.EndTime < s.StartTime {
		t.Errorf("times %f to %f", s.StartTime, s.EndTime)
	}
}

func TestThrottledCallIsMarked(t *testing.T) {
	c, daemon := rig(t, 400)
	if err := publish(c, header); err == nil {
		t.Fatal("want the throttling error")
	}
	s, ok := receive(t, daemon)
	if !ok || !s.Error || !s.Throttle || s.Fault || s.HTTP == nil || s.HTTP.Response.Status != 400 {
		t.Errorf("subsegment %+v (sent %v)", s, ok)
	}
}

func TestUnsampledOrUntracedSendsNothing(t *testing.T) {
	c, daemon := rig(t, 200)
	t.Setenv("_X_AMZN_TRACE_ID", "")
	for _, h := range []string{"Root=1-581cf771-a006649127e371903a2de979;Parent=70de5b6f19ff9a0b;Sampled=0", ""} {
		if err := publish(c, h); err != nil {
			t.Fatal(err)
		}
		if s, ok := receive(t, daemon); ok {
			t.Errorf("header %q sent %+v", h, s)
		}
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(xray.EnvDaemon, "")
	if xray.FromEnv() != nil {
		t.Error("an emitter without a daemon address")
	}
	var none *xray.Emitter
	if len(none.APIOptions()) != 0 {
		t.Error("a nil emitter adds middleware")
	}
	t.Setenv(xray.EnvDaemon, "tcp:127.0.0.1:2000 udp:127.0.0.1:2000")
	if xray.FromEnv() == nil {
		t.Error("no emitter for Lambda's two-address form")
	}
}

func TestParseHeader(t *testing.T) {
	h, ok := xray.ParseHeader(header)
	if !ok || h.Root != "1-581cf771-a006649127e371903a2de979" || h.Parent != "70de5b6f19ff9a0b" || !h.Sampled {
		t.Errorf("%+v %v", h, ok)
	}
	if _, ok := xray.ParseHeader("Root=1-5;Sampled=1"); ok {
		t.Error("a header without a parent accepted")
	}
}
