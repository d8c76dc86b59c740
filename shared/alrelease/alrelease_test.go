package alrelease_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/kaizen-sre/kaizen/shared/alrelease"
	"github.com/kaizen-sre/kaizen/shared/cloud"
)

// cloud.EC2API, what the other functions use, is enough for Latest.
var _ alrelease.ImagesAPI = cloud.EC2API(nil)

func TestParseImageName(t *testing.T) {
	for _, tc := range []struct {
		name, want, wantErr string
	}{
		{name: "al2023-ami-2023.6.20241121.0-kernel-6.1-x86_64", want: "2023.6.20241121"},
		{name: "al2023-ami-2023.6.20241121.0-kernel-6.1-arm64", want: "2023.6.20241121"},
		{name: "al2023-ami-minimal-2023.5.20240819.0-kernel-6.1-x86_64", want: "2023.5.20240819"},
		{name: "al2023-ami-2023.10.20260105.2-kernel-6.12-x86_64", want: "2023.10.20260105"},
		{name: "", wantErr: "empty"},
		{name: "amzn2-ami-kernel-5.10-hvm-2.0.20241113.1-x86_64-gp2", wantErr: `does not start with "al2023-ami-"`},
		{name: "al2023-ami-ecs-hvm-2023.0.20241115-kernel-6.1-x86_64", wantErr: `want "<release>.<build>-kernel-..." after "al2023-ami-"`},
		{name: "al2023-ami-2023.6.20241121.0", wantErr: `want "<release>.<build>-kernel-..."`},
		{name: "al2023-ami-2023.6.20241121.0-x86_64", wantErr: `want "<release>.<build>-kernel-..."`},
		{name: "al2023-ami-2023.6.20241121-kernel-6.1-x86_64", wantErr: `"2023.6.20241121" is not a release like 2023.6.20241121.0`},
		{name: "al2023-ami-2022.0.20220315.0-kernel-5.15-x86_64", wantErr: "is not a release"},
		{name: "al2023-ami-2023.6.20241399.0-kernel-6.1-x86_64", wantErr: `"20241399" in the release "2023.6.20241399.0" is not a date`},
		{name: "al2023-ami-2023.x.20241121.0-kernel-6.1-x86_64", wantErr: "is not a release"},
		{name: "al2023-ami-" + strings.Repeat("9", 500), wantErr: "..."},
	} {
		got, err := alrelease.ParseImageName(tc.name)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseImageName(%q) = %q, %v; want an error containing %q", tc.name, got, err, tc.wantErr)
			}
			if err != nil && len(err.Error()) > 300 {
				t.Errorf("error for a long name is not clipped: %d bytes", len(err.Error()))
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseImageName(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

type fakeSSM struct {
	out  *ssm.GetParameterOutput
	err  error
	asks []string
}

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.asks = append(f.asks, aws.ToString(in.Name))
	return f.out, f.err
}

type fakeEC2 struct {
	images []ec2types.Image
	err    error
	asks   [][]string
}

func (f *fakeEC2) DescribeImages(_ context.Context, in *ec2.DescribeImagesInput, _ ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	f.asks = append(f.asks, in.ImageIds)
	if f.err != nil {
		return nil, f.err
	}
	return &ec2.DescribeImagesOutput{Images: f.images}, nil
}

func param(v string) *ssm.GetParameterOutput {
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: aws.String(alrelease.DefaultParameter), Value: aws.String(v)}}
}

func image(id, name string) ec2types.Image {
	return ec2types.Image{ImageId: aws.String(id), Name: aws.String(name)}
}

func TestLatestWithFakes(t *testing.T) {
	const ami = "ami-0fff1b9a61dec8a5f"
	const name = "al2023-ami-2023.6.20241121.0-kernel-6.1-x86_64"
	for _, tc := range []struct {
		test    string
		param   string // Latest.Parameter
		ssm     *fakeSSM
		ec2     *fakeEC2
		want    string
		wantErr string
	}{
		{test: "default parameter", ssm: &fakeSSM{out: param(ami)}, ec2: &fakeEC2{images: []ec2types.Image{image(ami, name)}}, want: "2023.6.20241121"},
		{test: "arm64 parameter", param: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
			ssm: &fakeSSM{out: param(ami)}, ec2: &fakeEC2{images: []ec2types.Image{image(ami, "al2023-ami-2023.6.20241121.0-kernel-6.1-arm64")}}, want: "2023.6.20241121"},
		{test: "parameter error", ssm: &fakeSSM{err: errors.New("ParameterNotFound")}, ec2: &fakeEC2{},
			wantErr: "read SSM parameter " + alrelease.DefaultParameter + ": ParameterNotFound"},
		{test: "parameter without value", ssm: &fakeSSM{out: &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{}}}, ec2: &fakeEC2{}, wantErr: "has no value"},
		{test: "no parameter at all", ssm: &fakeSSM{out: &ssm.GetParameterOutput{}}, ec2: &fakeEC2{}, wantErr: "has no value"},
		{test: "parameter is no AMI id", ssm: &fakeSSM{out: param("resolve:ssm:/x")}, ec2: &fakeEC2{}, wantErr: `holds "resolve:ssm:/x", not an AMI id`},
		{test: "describe error", ssm: &fakeSSM{out: param(ami)}, ec2: &fakeEC2{err: errors.New("UnauthorizedOperation")}, wantErr: "describe " + ami + " (from " + alrelease.DefaultParameter + "): UnauthorizedOperation"},
		{test: "image not found", ssm: &fakeSSM{out: param(ami)}, ec2: &fakeEC2{}, wantErr: ami + " (from " + alrelease.DefaultParameter + ") not found"},
		{test: "another image only", ssm: &fakeSSM{out: param(ami)}, ec2: &fakeEC2{images: []ec2types.Image{image("ami-00000000000000001", name)}}, wantErr: "not found by DescribeImages (1 other images returned)"},
		{test: "image twice", ssm: &fakeSSM{out: param(ami)}, ec2: &fakeEC2{images: []ec2types.Image{image(ami, name), image(ami, name)}}, wantErr: "2 times"},
		{test: "image without name", ssm: &fakeSSM{out: param(ami)}, ec2: &fakeEC2{images: []ec2types.Image{{ImageId: aws.String(ami)}}}, wantErr: `AMI name "": empty`},
		{test: "not AL2023", ssm: &fakeSSM{out: param(ami)}, ec2: &fakeEC2{images: []ec2types.Image{image(ami, "amzn2-ami-kernel-5.10-hvm-2.0.20241113.1-x86_64-gp2")}},
			wantErr: ami + ` (from ` + alrelease.DefaultParameter + `): AMI name "amzn2-ami-kernel-5.10-hvm-2.0.20241113.1-x86_64-gp2": does not start with "al2023-ami-"`},
	} {
		t.Run(tc.test, func(t *testing.T) {
			l := &alrelease.Latest{SSM: tc.ssm, EC2: tc.ec2, Parameter: tc.param}
			got, err := l.ReleaseVersion(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "alrelease: ") {
					t.Fatalf("got %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			wantParam := tc.param
			if wantParam == "" {
				wantParam = alrelease.DefaultParameter
			}
			if len(tc.ssm.asks) != 1 || tc.ssm.asks[0] != wantParam || len(tc.ec2.asks) != 1 || len(tc.ec2.asks[0]) != 1 || tc.ec2.asks[0][0] != ami {
				t.Fatalf("asked SSM %v and EC2 %v", tc.ssm.asks, tc.ec2.asks)
			}
		})
	}
	if _, err := (&alrelease.Latest{}).ReleaseVersion(context.Background()); err == nil || !strings.Contains(err.Error(), "needs SSM and EC2") {
		t.Fatalf("zero Latest: %v", err)
	}
}

// awsServer answers SSM GetParameter (JSON 1.1) and EC2 DescribeImages
// (query protocol) the way AWS does, and records what it was asked.
type awsServer struct {
	t        *testing.T
	mu       sync.Mutex
	params   map[string]string // name → value
	images   map[string]string // AMI id → name
	requests []string
}

func (s *awsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		s.t.Errorf("unsigned request: %s %s", r.Method, r.URL)
	}
	switch target := r.Header.Get("X-Amz-Target"); {
	case target == "AmazonSSM.GetParameter":
		if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
			s.t.Errorf("SSM Content-Type %q", ct)
		}
		var in struct{ Name string }
		if err := json.Unmarshal(body, &in); err != nil {
			s.t.Errorf("SSM body %q: %v", body, err)
		}
		s.requests = append(s.requests, "GetParameter "+in.Name)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		v, ok := s.params[in.Name]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"ParameterNotFound","message":"Parameter %s not found."}`, in.Name)
			return
		}
		fmt.Fprintf(w, `{"Parameter":{"ARN":"arn:aws:ssm:eu-west-1::parameter%s","DataType":"text","LastModifiedDate":1.732222222E9,"Name":%q,"Type":"String","Value":%q,"Version":77}}`, in.Name, in.Name, v)
	case target == "":
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("Action") != "DescribeImages" {
			s.t.Errorf("EC2 request %q: %v", body, err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		id := form.Get("ImageId.1")
		s.requests = append(s.requests, "DescribeImages "+id)
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId><imagesSet>`)
		if name, ok := s.images[id]; ok {
			fmt.Fprintf(w, `<item><imageId>%s</imageId><imageLocation>amazon/%s</imageLocation><imageState>available</imageState><imageOwnerId>137112412989</imageOwnerId><name>%s</name><architecture>x86_64</architecture></item>`, id, name, name)
		}
		fmt.Fprint(w, `</imagesSet></DescribeImagesResponse>`)
	default:
		s.t.Errorf("unexpected X-Amz-Target %q", target)
		http.Error(w, "unknown operation", http.StatusBadRequest)
	}
}

func (s *awsServer) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// TestLatestWithRealClients runs Latest with the SDK's own clients against
// an HTTP server speaking both protocols, so the request shapes and the
// response parsing are the real ones.
func TestLatestWithRealClients(t *testing.T) {
	const ami = "ami-0fff1b9a61dec8a5f"
	srv := &awsServer{t: t,
		params: map[string]string{alrelease.DefaultParameter: ami},
		images: map[string]string{ami: "al2023-ami-2023.6.20241121.0-kernel-6.1-x86_64"},
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "")
	l := &alrelease.Latest{
		SSM: ssm.New(ssm.Options{Region: "eu-west-1", BaseEndpoint: aws.String(hs.URL), Credentials: creds, RetryMaxAttempts: 1}),
		EC2: ec2.New(ec2.Options{Region: "eu-west-1", BaseEndpoint: aws.String(hs.URL), Credentials: creds, RetryMaxAttempts: 1}),
	}
	got, err := l.ReleaseVersion(context.Background())
	if err != nil || got != "2023.6.20241121" {
		t.Fatalf("ReleaseVersion = %q, %v; want 2023.6.20241121", got, err)
	}
	if c := srv.calls(); len(c) != 2 || c[0] != "GetParameter "+alrelease.DefaultParameter || c[1] != "DescribeImages "+ami {
		t.Fatalf("requests = %q", c)
	}

	// AWS errors come through with the parameter named.
	l.Parameter = "/aws/service/ami-amazon-linux-latest/no-such"
	if _, err := l.ReleaseVersion(context.Background()); err == nil || !strings.Contains(err.Error(), "ParameterNotFound") || !strings.Contains(err.Error(), l.Parameter) {
		t.Fatalf("missing parameter: %v", err)
	}
	// An AMI that EC2 does not know (deregistered meanwhile, or another
	// region's id) is an error, not an empty version.
	srv.mu.Lock()
	srv.params["/other"] = "ami-00000000000000001"
	srv.mu.Unlock()
	l.Parameter = "/other"
	if _, err := l.ReleaseVersion(context.Background()); err == nil || !strings.Contains(err.Error(), "ami-00000000000000001 (from /other) not found") {
		t.Fatalf("unknown AMI: %v", err)
	}
}
