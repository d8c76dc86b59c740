package datadog

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/analysis"
)

var (
	t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	t1 = t0.Add(3 * time.Minute)
)

const (
	apiKey = "api-key-0123456789"
	appKey = "app-key-9876543210"
)

// server speaks the timeseries query API: it checks the keys and the
// request's shape, and answers each formula with a series whose values
// are the query's index plus the minute (null in the second minute of
// query 1, and query 2 grouped into two series).
func server(t *testing.T, requests *[]request) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != Path || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		if r.Header.Get("DD-API-KEY") != apiKey || r.Header.Get("DD-APPLICATION-KEY") != appKey {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"errors":["Forbidden"]}`)
			return
		}
		var req request
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		*requests = append(*requests, req)
		a := req.Data.Attributes
		var times []int64
		for ts := a.From; ts < a.To; ts += a.Interval {
			times = append(times, ts)
		}
		type series struct {
			QueryIndex int      `json:"query_index"`
			GroupTags  []string `json:"group_tags"`
			Unit       any      `json:"unit"`
		}
		var ss []series
		var values [][]*float64
		for i := range a.Formulas {
			groups := 1
			if i == 2 {
				groups = 2
			}
			for g := range groups {
				ss = append(ss, series{QueryIndex: i, GroupTags: []string{fmt.Sprintf("az:%d", g)}})
				var vs []*float64
				for k := range times {
					v := float64(i*10 + k)
					if i == 1 && k == 1 {
						vs = append(vs, nil)
						continue
					}
					vs = append(vs, &v)
				}
				values = append(values, vs)
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"type": "timeseries_response", "id": "0",
			"attributes": map[string]any{"series": ss, "times": times, "values": values}}})
	}))
}

func TestFetch(t *testing.T) {
	var reqs []request
	srv := server(t, &reqs)
	defer srv.Close()
	p := &Provider{BaseURL: srv.URL, APIKey: apiKey, AppKey: appKey, Client: srv.Client()}
	qs := []analysis.Query{
		{ID: "q0", DatadogQuery: "sum:aws.applicationelb.request_count{targetgroup:targetgroup/shop-green/1}.as_count()"},
		{ID: "q1", DatadogQuery: "sum:aws.applicationelb.httpcode_target_5xx{targetgroup:targetgroup/shop-green/1}.as_count()"},
		{ID: "q2", DatadogQuery: "sum:shop.checkout.failed{color:green} by {az}.as_count()"},
	}
	got, err := p.Fetch(context.Background(), t0, t1, qs)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || p.Calls != 1 {
		t.Fatalf("%d requests, want one for every query", len(reqs))
	}
	a := reqs[0].Data.Attributes
	if reqs[0].Data.Type != "timeseries_request" || a.From != t0.UnixMilli() || a.To != t1.UnixMilli() || a.Interval != 60000 ||
		len(a.Queries) != 3 || a.Queries[1].DataSource != "metrics" || a.Queries[1].Query != qs[1].DatadogQuery || a.Formulas[2].Formula != a.Queries[2].Name {
		t.Fatalf("request %+v", reqs[0])
	}
	if s := got["q0"]; len(s) != 3 || !s[0].At.Equal(t0) || s[2].Value != 2 {
		t.Errorf("q0 %+v", s)
	}
	if s := got["q1"]; len(s) != 2 || s[1].Value != 12 {
		t.Errorf("q1 must skip the null point: %+v", s)
	}
	if s := got["q2"]; len(s) != 3 || s[0].Value != 40 {
		t.Errorf("q2's two groups must be added: %+v", s)
	}
}

func TestChunks(t *testing.T) {
	var reqs []request
	srv := server(t, &reqs)
	defer srv.Close()
	p := &Provider{BaseURL: srv.URL, APIKey: apiKey, AppKey: appKey, Client: srv.Client()}
	var qs []analysis.Query
	for i := range 250 {
		qs = append(qs, analysis.Query{ID: fmt.Sprintf("q%d", i), DatadogQuery: "sum:m{*}"})
	}
	got, err := p.Fetch(context.Background(), t0, t1, qs)
	if err != nil || len(reqs) != 3 || len(got) != 250 {
		t.Fatalf("%v: %d requests, %d series", err, len(reqs), len(got))
	}
}

func TestErrorsNameNoKey(t *testing.T) {
	var reqs []request
	srv := server(t, &reqs)
	defer srv.Close()
	p := &Provider{BaseURL: srv.URL, APIKey: "wrong-api-key-secret", AppKey: "wrong-app-key-secret", Client: srv.Client()}
	_, err := p.Fetch(context.Background(), t0, t1, []analysis.Query{{ID: "q0", DatadogQuery: "sum:m{*}"}})
	if err == nil || !strings.Contains(err.Error(), "HTTP 403") {
		t.Fatalf("wrong keys: %v", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("the error shows a key: %v", err)
	}
	if _, err := p.Fetch(context.Background(), t0, t1, []analysis.Query{{ID: "q0", Namespace: "AWS/ApplicationELB"}}); err == nil {
		t.Fatal("a query without a Datadog query was sent")
	}
	if len(reqs) != 0 {
		t.Fatalf("%d requests accepted", len(reqs))
	}
}
