package conformance

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// apiCall is one AWS API call that went through a world's recorder.
type apiCall struct {
	Service string // the SigV4 signing name: ec2, autoscaling, elasticloadbalancing, sns, dynamodb
	Op      string
	Status  int
}

// mutating are the calls that change the fleet: what DESIGN.md §10 counts.
var mutating = map[string]bool{
	"CreateLaunchTemplateVersion": true, "UpdateAutoScalingGroup": true,
	"SuspendProcesses": true, "ResumeProcesses": true,
	"ModifyListener": true, "ModifyRule": true, "Publish": true,
	"DeregisterImage": true, "DeleteSnapshot": true,
}

// recorder is a reverse proxy in front of moto that the packaged functions
// and the CLI reach through AWS_ENDPOINT_URL. moto counts nothing, so the
// proxy records each call's service and operation: the tests can then
// assert what a step called, and what it must not have called.
type recorder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []apiCall
	// patch, if set, may rewrite moto's answer to a successful call (see
	// fidelity_test.go).
	patch func(service, op string, body []byte) []byte
}

var credentialScope = regexp.MustCompile(`Credential=[^/]+/[0-9]+/[^/]+/([^/]+)/aws4_request`)

func newRecorder(t *testing.T, motoURL string) *recorder {
	t.Helper()
	target, err := url.Parse(motoURL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	r := &recorder{}
	rp.ModifyResponse = func(resp *http.Response) error {
		r.mu.Lock()
		patch := r.patch
		r.mu.Unlock()
		if patch == nil || resp.StatusCode >= 300 {
			return nil
		}
		svc := ""
		if m := credentialScope.FindStringSubmatch(resp.Request.Header.Get("Authorization")); m != nil {
			svc = m[1]
		}
		tgt := resp.Request.Header.Get("X-Amz-Target")
		op := tgt[strings.LastIndex(tgt, ".")+1:]
		if op == "" {
			return nil // the query protocols' answers need no patch
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		body = patch(svc, op, body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		c := apiCall{Op: operation(req, body)}
		if m := credentialScope.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
			c.Service = m[1]
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		rp.ServeHTTP(sw, req)
		c.Status = sw.status
		r.mu.Lock()
		r.calls = append(r.calls, c)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// operation names the API operation of a request: the X-Amz-Target of the
// JSON protocols, the Action of the query protocols.
func operation(req *http.Request, body []byte) string {
	if tgt := req.Header.Get("X-Amz-Target"); tgt != "" {
		return tgt[strings.LastIndex(tgt, ".")+1:]
	}
	if v, err := url.ParseQuery(string(body)); err == nil && v.Get("Action") != "" {
		return v.Get("Action")
	}
	return req.URL.Query().Get("Action")
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// URL is the endpoint to hand to the functions and the CLI.
func (r *recorder) URL() string { return r.srv.URL }

// mark returns the position to count calls from.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// since returns the calls made after mark.
func (r *recorder) since(mark int) []apiCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]apiCall(nil), r.calls[mark:]...)
}

// mutations counts the successful mutating calls per operation.
func mutations(calls []apiCall) map[string]int {
	m := map[string]int{}
	for _, c := range calls {
		if mutating[c.Op] && c.Status < 300 {
			m[c.Op]++
		}
	}
	return m
}

func summary(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// failed lists the calls moto answered with an error.
func failed(calls []apiCall) []string {
	var out []string
	for _, c := range calls {
		if c.Service == "monitoring" && c.Status == http.StatusNotFound {
			// moto 5.2.1 does not speak the smithy-rpcv2-cbor protocol
			// (POST /service/GraniteServiceVersion20100801/operation/...)
			// that the Go SDK's CloudWatch client uses and AWS documents
			// for CloudWatch; it answers 404. The approval evidence reads
			// the guard alarms' states best effort and says they are not
			// available; the simulator serves them (shared/sim/cloudwatch.go).
			continue
		}
		if c.Status >= 300 {
			out = append(out, fmt.Sprintf("%s %s → HTTP %d", c.Service, c.Op, c.Status))
		}
	}
	return out
}
