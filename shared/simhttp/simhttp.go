// Package simhttp serves the simulated AWS of shared/sim over HTTP, in the
// wire protocols the AWS SDKs speak, so that unmodified aws-sdk-go-v2
// clients (and so the packaged Lambda binaries) reach it through
// AWS_ENDPOINT_URL. One address serves every service kaizen calls.
//
// A request's service comes from its SigV4 credential scope
// (".../REGION/ec2/aws4_request"); signatures are not checked, any
// credentials do. Without an Authorization header the service is taken from
// X-Amz-Target, the first path segment or host label ("/ec2/",
// "autoscaling.localhost"), or the query protocols' Version parameter.
//
// How each protocol is served:
//   - awsQuery (Auto Scaling, ELBv2, SNS) is generic (query.go): these SDK
//     modules carry Smithy schemas, so requests decode and responses encode
//     through the SDK types' own Deserialize and Serialize methods, and every
//     member the SDK knows survives the trip.
//   - ec2Query (EC2, ec2.go) and awsJson1_1 (CodeBuild and CodePipeline,
//     json.go) are mapped by hand for the operations kaizen calls: those SDK
//     modules still use per-operation generated code, with no schema to
//     drive a codec.
//   - Smithy RPC v2 CBOR (CloudWatch's DescribeAlarms and GetMetricData,
//     cloudwatch.go) is generic like awsQuery: POST /service/<service>/
//     operation/<op>, decoded and encoded through the SDK types' schemas.
//
// Under /_sim/ a few plain-JSON endpoints drive the simulation itself (the
// clock, new AMIs) and show what it recorded (admin.go).
package simhttp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/sim"
)

// Service names as they appear in a SigV4 credential scope.
const (
	svcEC2          = "ec2"
	svcAutoScaling  = "autoscaling"
	svcELB          = "elasticloadbalancing"
	svcSNS          = "sns"
	svcCodeBuild    = "codebuild"
	svcCodePipeline = "codepipeline"
	svcSSM          = "ssm"
)

// versions maps the Version parameter of the query protocols to services,
// for requests that name no service otherwise.
var versions = map[string]string{
	"2016-11-15": svcEC2,
	"2011-01-01": svcAutoScaling,
	"2015-12-01": svcELB,
	"2010-03-31": svcSNS,
	"2014-10-31": svcRDS,
}

// targetPrefixes maps the X-Amz-Target prefix of the JSON protocols to
// services.
var targetPrefixes = map[string]string{
	"CodeBuild_20161006":    svcCodeBuild,
	"CodePipeline_20150709": svcCodePipeline,
	"AmazonSSM":             svcSSM,
	"secretsmanager":        svcSecrets,
}

// maxBody bounds a request body; the largest kaizen sends is an SNS message
// (256 KiB at most).
const maxBody = 4 << 20

// Option configures the handler.
type Option func(*server)

// WithConfig gives the handler kaizen's configuration, which POST /_sim/ami
// needs to tag a new AMI for an app.
func WithConfig(f *config.File) Option { return func(s *server) { s.cfg = f } }

// WithLogger logs one line per AWS call (service, operation, error code).
func WithLogger(l *slog.Logger) Option { return func(s *server) { s.log = l } }

type server struct {
	cloud *sim.Cloud
	cfg   *config.File
	log   *slog.Logger

	ec2   cloud.EC2API
	query map[string]*queryService
	json  map[string]jsonOp
	cbor  map[string]cborOp // CloudWatch, RPC v2 CBOR (cloudwatch.go)
	admin *http.ServeMux
}

// New returns a handler serving c's EC2, Auto Scaling, ELBv2, SNS, CodeBuild,
// CodePipeline and CloudWatch APIs, and the /_sim/ admin endpoints.
func New(c *sim.Cloud, opts ...Option) http.Handler {
	s := &server{cloud: c, log: slog.New(slog.DiscardHandler), ec2: c.EC2()}
	for _, o := range opts {
		o(s)
	}
	s.query = queryServices(c.AutoScaling(), c.ELBv2(), c.SNS())
	s.json = jsonOps(c.CodeBuild(), c.CodePipeline(), c.SSM())
	s.query[svcRDS] = rdsQueryService(c.RDS()) // and Secrets Manager: rds.go
	for k, op := range secretsJSONOps(c.SecretsManager()) {
		s.json[k] = op
	}
	s.cbor = cloudWatchOps(c.CloudWatch())
	s.admin = s.adminMux()
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, adminPrefix) {
		s.admin.ServeHTTP(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if strings.HasPrefix(r.URL.Path, rpcv2Prefix) {
		s.serveRPCv2(w, r)
		return
	}
	svc := serviceOf(r)
	switch {
	case svc == svcEC2:
		s.serveEC2(w, r)
	case s.query[svc] != nil:
		s.serveQuery(w, r, svc, s.query[svc])
	case svc == svcCodeBuild || svc == svcCodePipeline || svc == svcSSM || svc == svcSecrets:
		s.serveJSON(w, r, svc)
	case r.Header.Get("X-Amz-Target") != "":
		// A JSON client of a service not simulated here (DynamoDB, say)
		// gets an error it can decode.
		err := badRequest("UnknownOperationException", "simhttp does not serve %s", r.Header.Get("X-Amz-Target"))
		s.logCall(r.Context(), svc, r.Header.Get("X-Amz-Target"), err)
		writeJSONError(w, requestID(), err)
	default:
		err := badRequest("InvalidAction", "simhttp does not serve action %q of service %q", r.FormValue("Action"), svc)
		if svc == "" {
			err.message = fmt.Sprintf("simhttp cannot tell the service of action %q: no SigV4 credential scope, X-Amz-Target or known Version", r.FormValue("Action"))
		}
		s.logCall(r.Context(), svc, r.FormValue("Action"), err)
		writeQueryError(w, requestID(), "", err)
	}
}

// serviceOf finds the AWS service a request is for.
func serviceOf(r *http.Request) string {
	if svc := scopeService(r.Header.Get("Authorization")); svc != "" {
		return svc
	}
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		prefix, _, _ := strings.Cut(t, ".")
		if svc, ok := targetPrefixes[prefix]; ok {
			return svc
		}
	}
	if seg, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/"); known(seg) {
		return seg
	}
	if label, _, _ := strings.Cut(r.Host, "."); known(label) {
		return label
	}
	// Reads the form, which the query protocols do anyway; JSON bodies are
	// left alone (their content type is not a form).
	return versions[r.FormValue("Version")]
}

func known(svc string) bool {
	switch svc {
	case svcEC2, svcAutoScaling, svcELB, svcSNS, svcCodeBuild, svcCodePipeline, svcSSM, svcRDS, svcSecrets:
		return true
	}
	return false
}

// scopeService reads the service from a SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=AKID/20250101/eu-west-1/ec2/aws4_request, ...".
func scopeService(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}

// wireError is an error as a protocol reports it: a status, a code and a
// message.
type wireError struct {
	status        int
	code, message string
}

func (e *wireError) Error() string { return e.code + ": " + e.message }

func (e *wireError) server() bool { return e.status >= 500 }

func badRequest(code, format string, args ...any) *wireError {
	return &wireError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...)}
}

// toWire maps what the simulation returned to what AWS would send: its API
// errors keep their code, server faults become 503 so SDKs retry them as
// they would AWS's, and anything else is an internal failure.
func toWire(err error) *wireError {
	var we *wireError
	if errors.As(err, &we) {
		return we
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		st := http.StatusBadRequest
		if ae.ErrorFault() == smithy.FaultServer {
			st = http.StatusServiceUnavailable
		}
		return &wireError{status: st, code: ae.ErrorCode(), message: ae.ErrorMessage()}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// An injected sim.Timeout(): tell the client as a gateway would.
		return &wireError{status: http.StatusGatewayTimeout, code: "RequestTimeout", message: err.Error()}
	}
	return &wireError{status: http.StatusInternalServerError, code: "InternalFailure", message: err.Error()}
}

// logCall logs one AWS call.
func (s *server) logCall(ctx context.Context, svc, op string, err error) {
	if err == nil {
		s.log.LogAttrs(ctx, slog.LevelInfo, "aws call", slog.String("service", svc), slog.String("op", op))
		return
	}
	we := toWire(err)
	s.log.LogAttrs(ctx, slog.LevelInfo, "aws call", slog.String("service", svc), slog.String("op", op),
		slog.Int("status", we.status), slog.String("code", we.code), slog.String("message", we.message))
}

// requestID returns a fresh request id in AWS's UUID shape.
func requestID() string {
	var b [16]byte
	_, _ = io.ReadFull(rand.Reader, b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
