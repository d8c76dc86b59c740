package rie

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestResultErr(t *testing.T) {
	cases := []struct {
		name string
		res  Result
		want string // "" for no error
	}{
		{"success", Result{Status: 200, Body: []byte("null")}, ""},
		{"init failure", Result{Status: 502, Body: []byte("boom")}, "HTTP 502: boom"},
		{"function error", Result{Status: 200, ErrorType: "errorString", ErrorMessage: "no"}, "function error errorString: no"},
	}
	for _, tc := range cases {
		err := tc.res.Err()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: want no error, got %v", tc.name, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("%s: want %q, got %v", tc.name, tc.want, err)
		}
	}
}

// Invoke posts the event to the emulator's endpoint and reads a function
// error out of a 200 answer; only a transport failure is an error.
func TestInvoke(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 64)
		n, _ := r.Body.Read(b)
		got = r.Method + " " + r.URL.Path + " " + string(b[:n])
		w.Write([]byte(`{"errorMessage":"bad detail","errorType":"decodeError"}`))
	}))
	f := &Function{Name: "stage", URL: srv.URL + "/2015-03-31/functions/function/invocations", log: &SyncBuffer{}}
	res, err := f.Invoke([]byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if got != `POST /2015-03-31/functions/function/invocations {"a":1}` {
		t.Errorf("the emulator got %q", got)
	}
	if res.Status != 200 || res.ErrorType != "decodeError" || res.ErrorMessage != "bad detail" {
		t.Errorf("result %+v", res)
	}
	srv.Close()
	if _, err := f.Invoke(nil); err == nil {
		t.Error("invoking a closed endpoint: want a transport error")
	}
}

func TestWaitListening(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	running := make(chan struct{})
	if err := waitListening(addr, running, time.Second); err != nil {
		t.Errorf("listening: %v", err)
	}
	l.Close()
	exited := make(chan struct{})
	close(exited)
	if err := waitListening(addr, exited, 5*time.Second); err == nil || !strings.Contains(err.Error(), "exited before listening") {
		t.Errorf("exited: want %q, got %v", "exited before listening", err)
	}
	if err := waitListening(addr, running, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "not listening") {
		t.Errorf("silent: want %q, got %v", "not listening", err)
	}
}

// RunCLI returns the exit code and both outputs, and runs with exactly the
// environment given.
func TestRunCLI(t *testing.T) {
	code, out, errs := RunCLI(t, "/bin/sh", []string{"KAIZEN_X=1"}, 10*time.Second, "-c", `echo "out $KAIZEN_X${HOME:+ home leaked}"; echo err >&2; exit 3`)
	if code != 3 || out != "out 1\n" || errs != "err\n" {
		t.Errorf("got code %d, stdout %q, stderr %q; want 3, %q, %q", code, out, errs, "out 1\n", "err\n")
	}
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	done := make(chan struct{})
	go func() {
		for range 100 {
			b.Write([]byte("x"))
		}
		close(done)
	}()
	for range 100 {
		_ = b.String()
	}
	<-done
	if s := b.String(); s != strings.Repeat("x", 100) {
		t.Errorf("got %d bytes, want 100", len(s))
	}
}
