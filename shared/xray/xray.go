// Package xray records each AWS call a function makes as an X-Ray
// subsegment of the invocation's trace, sent to the X-Ray daemon Lambda
// runs beside the function (UDP, AWS_XRAY_DAEMON_ADDRESS). With active
// tracing (the CDK default) a step's trace then shows where its time went,
// call by call: the guard's reads, its write-ahead, its ModifyListener.
//
// Why not the X-Ray SDK or OpenTelemetry: neither fits the 12 MiB bound
// on a bootstrap. The OpenTelemetry SDK with its OTLP/HTTP exporter and a
// span per AWS call made the arm64 bootstraps 22 to 50 MiB; this package
// adds a few tens of KiB. It writes documents as AWS's "Sending trace
// data to AWS X-Ray" describes: an independent subsegment (type
// "subsegment", the trace id and the parent's id from the trace header),
// after the daemon's header line {"format": "json", "version": 1}.
package xray

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// EnvDaemon is where Lambda tells the function the daemon listens.
const EnvDaemon = "AWS_XRAY_DAEMON_ADDRESS"

// daemonHeader precedes every document sent to the daemon.
const daemonHeader = "{\"format\": \"json\", \"version\": 1}\n"

// Header is an invocation's trace header (X-Amzn-Trace-Id):
// Root=1-...;Parent=...;Sampled=1.
type Header struct {
	Root, Parent string
	Sampled      bool
}

// ParseHeader reads a trace header; ok is false when it names no trace
// or no parent.
func ParseHeader(s string) (h Header, ok bool) {
	for _, part := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Root":
			h.Root = v
		case "Parent":
			h.Parent = v
		case "Sampled":
			h.Sampled = v == "1"
		}
	}
	return h, h.Root != "" && h.Parent != ""
}

// headerOf is the invocation's trace header: aws-lambda-go puts it in the
// context (and in _X_AMZN_TRACE_ID).
func headerOf(ctx context.Context) (Header, bool) {
	if s, _ := ctx.Value("x-amzn-trace-id").(string); s != "" {
		return ParseHeader(s)
	}
	return ParseHeader(os.Getenv("_X_AMZN_TRACE_ID"))
}

// Emitter sends subsegments to the daemon. A nil *Emitter sends nothing.
type Emitter struct {
	mu   sync.Mutex
	conn net.Conn
	now  func() time.Time
}

// FromEnv is an Emitter to the daemon Lambda names, or nil outside Lambda
// (no AWS_XRAY_DAEMON_ADDRESS) or if it cannot be reached.
func FromEnv() *Emitter {
	addr := os.Getenv(EnvDaemon)
	if addr == "" {
		return nil
	}
	// "host:port", or "tcp:host:port udp:host:port" where the daemon
	// listens on both.
	for _, f := range strings.Fields(addr) {
		if a, ok := strings.CutPrefix(f, "udp:"); ok {
			addr = a
		}
	}
	e, err := Dial(addr)
	if err != nil {
		return nil
	}
	return e
}

// Dial is an Emitter to the daemon at addr (host:port, UDP).
func Dial(addr string) (*Emitter, error) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return nil, err
	}
	return &Emitter{conn: c, now: time.Now}, nil
}

// APIOptions are the SDK middleware that records every call (retries
// included) as a subsegment; none for a nil Emitter.
func (e *Emitter) APIOptions() []func(*middleware.Stack) error {
	if e == nil {
		return nil
	}
	return []func(*middleware.Stack) error{func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("kaizenXRaySubsegment", e.record), middleware.Before)
	}}
}

// Subsegment is one call as X-Ray's segment documents describe it.
type Subsegment struct {
	Name      string  `json:"name"`
	ID        string  `json:"id"`
	TraceID   string  `json:"trace_id"`
	ParentID  string  `json:"parent_id"`
	Type      string  `json:"type"`
	Namespace string  `json:"namespace"`
	StartTime float64 `json:"start_time"`
	EndTime   float64 `json:"end_time"`
	Error     bool    `json:"error,omitempty"`
	Throttle  bool    `json:"throttle,omitempty"`
	Fault     bool    `json:"fault,omitempty"`
	AWS       AWSCall `json:"aws"`
	HTTP      *HTTP   `json:"http,omitempty"`
}

// AWSCall names the call.
type AWSCall struct {
	Operation string `json:"operation"`
	Region    string `json:"region,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// HTTP is the call's response status.
type HTTP struct {
	Response struct {
		Status int `json:"status"`
	} `json:"response"`
}

func (e *Emitter) record(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	h, ok := headerOf(ctx)
	if !ok || !h.Sampled {
		return next.HandleInitialize(ctx, in)
	}
	start := e.now()
	out, md, err := next.HandleInitialize(ctx, in)
	s := Subsegment{
		Name: awsmiddleware.GetServiceID(ctx), ID: newID(), TraceID: h.Root, ParentID: h.Parent,
		Type: "subsegment", Namespace: "aws", StartTime: seconds(start), EndTime: seconds(e.now()),
		AWS: AWSCall{Operation: awsmiddleware.GetOperationName(ctx), Region: awsmiddleware.GetRegion(ctx)},
	}
	s.AWS.RequestID, _ = awsmiddleware.GetRequestIDMetadata(md)
	status := 0
	if r, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && r != nil {
		status = r.StatusCode
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		status = re.Response.StatusCode
	}
	if status != 0 {
		s.HTTP = &HTTP{}
		s.HTTP.Response.Status = status
	}
	switch {
	case err == nil:
	case status == 429 || isThrottle(err):
		s.Error, s.Throttle = true, true
	case status >= 400 && status < 500:
		s.Error = true
	default:
		s.Fault = true
	}
	e.send(s)
	return out, md, err
}

func isThrottle(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	c := ae.ErrorCode()
	return strings.Contains(c, "Throttl") || c == "RequestLimitExceeded" || c == "TooManyRequestsException" || c == "ProvisionedThroughputExceededException"
}

// send writes one document; a failed write loses the subsegment only.
func (e *Emitter) send(s Subsegment) {
	b, err := json.Marshal(s)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.conn.Write(append([]byte(daemonHeader), b...))
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
