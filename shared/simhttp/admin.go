package simhttp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// adminPrefix is where the simulation's own endpoints live. No AWS API
// path starts with it, and the services served here all POST to "/".
const adminPrefix = "/_sim/"

// The admin endpoints, plain JSON for tests and the CLI:
//
//	POST /_sim/advance?d=5m   move the virtual clock          → {"now": ...}
//	GET  /_sim/now            the virtual time                → {"now": ...}
//	POST /_sim/ami            {"app", "name", "pipelineExecution"}
//	                          register a tagged AMI           → {"id": ...}
//	GET  /_sim/published      SNS messages published so far   → [{"at", "topic", "subject", "message"}]
//	GET  /_sim/mutations      successful mutating calls       → {"ModifyListener": 2, ...}
//	POST /_sim/alarm          {"name", "state", "reason", "composite"}
//	                          set a CloudWatch alarm's state  → {"name", "state"}
func (s *server) adminMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /_sim/advance", s.advance)
	m.HandleFunc("GET /_sim/now", s.now)
	m.HandleFunc("POST /_sim/ami", s.ami)
	m.HandleFunc("POST /_sim/alarm", s.alarm) // cloudwatch.go
	m.HandleFunc("GET /_sim/published", s.published)
	m.HandleFunc("GET /_sim/mutations", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.cloud.Mutations())
	})
	return m
}

type nowJSON struct {
	Now time.Time `json:"now"`
}

func (s *server) now(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, nowJSON{s.cloud.Now()})
}

func (s *server) advance(w http.ResponseWriter, r *http.Request) {
	d, err := time.ParseDuration(r.URL.Query().Get("d"))
	if err != nil || d <= 0 {
		adminError(w, http.StatusBadRequest, "d must be a positive duration such as 5m, got %q", r.URL.Query().Get("d"))
		return
	}
	s.cloud.Advance(d)
	writeJSON(w, http.StatusOK, nowJSON{s.cloud.Now()})
}

func (s *server) ami(w http.ResponseWriter, r *http.Request) {
	var in struct {
		App               string `json:"app"`
		Name              string `json:"name"`
		PipelineExecution string `json:"pipelineExecution"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&in); err != nil {
		adminError(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	if s.cfg == nil {
		adminError(w, http.StatusBadRequest, "no configuration: the server was started without simhttp.WithConfig")
		return
	}
	app, ok := s.cfg.App(in.App)
	if !ok {
		adminError(w, http.StatusNotFound, "app %q is not in the configuration", in.App)
		return
	}
	if in.Name == "" {
		in.Name = fmt.Sprintf("%s-golden-%s", app.Name, s.cloud.Now().Format("20060102T150405Z"))
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": s.cloud.NewAMI(app, in.Name, in.PipelineExecution)})
}

func (s *server) published(w http.ResponseWriter, _ *http.Request) {
	type message struct {
		At      time.Time `json:"at"`
		Topic   string    `json:"topic"`
		Subject string    `json:"subject"`
		Message string    `json:"message"`
	}
	out := []message{}
	for _, p := range s.cloud.Published() {
		out = append(out, message{At: p.At, Topic: p.Topic, Subject: p.Subject, Message: p.Message})
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func adminError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}
