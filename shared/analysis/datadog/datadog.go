// Package datadog is analysis' Datadog provider: the documented metrics
// query API, "Query timeseries data across multiple products"
// (POST /api/v2/query/timeseries), with every query of a tick in one
// request (one formula per query, so each answer series names its query
// by query_index), authenticated by the DD-API-KEY and
// DD-APPLICATION-KEY headers.
package datadog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/analysis"
)

// Path is the API's path.
const Path = "/api/v2/query/timeseries"

// MaxQueries is how many queries one request carries; more are sent in
// further requests.
const MaxQueries = 100

// maxBody caps an answer: one-minute points of MaxQueries series over
// three hours are well under it.
const maxBody = 16 << 20

// Provider fetches series from Datadog.
type Provider struct {
	// BaseURL is https://api.<site> (api.datadoghq.com, api.datadoghq.eu ...).
	BaseURL string
	// APIKey and AppKey authenticate; they never appear in an error or a log.
	APIKey, AppKey string
	Client         *http.Client
	// Calls counts the requests made.
	Calls int
}

var _ analysis.Provider = (*Provider)(nil)

// New is a provider for a Datadog site ("datadoghq.com", "datadoghq.eu",
// "us3.datadoghq.com" ...).
func New(site, apiKey, appKey string) *Provider {
	return &Provider{BaseURL: "https://api." + site, APIKey: apiKey, AppKey: appKey, Client: &http.Client{Timeout: 10 * time.Second}}
}

// Name is "datadog".
func (p *Provider) Name() string { return "datadog" }

// request is the API's body (TimeseriesFormulaQueryRequest).
type request struct {
	Data struct {
		Type       string `json:"type"`
		Attributes struct {
			From     int64     `json:"from"`
			To       int64     `json:"to"`
			Interval int64     `json:"interval"`
			Queries  []query   `json:"queries"`
			Formulas []formula `json:"formulas"`
		} `json:"attributes"`
	} `json:"data"`
}

type query struct {
	DataSource string `json:"data_source"`
	Query      string `json:"query"`
	Name       string `json:"name"`
}

type formula struct {
	Formula string `json:"formula"`
}

// response is the API's answer (TimeseriesFormulaQueryResponse): one
// series per formula, its values beside the shared times.
type response struct {
	Data struct {
		Attributes struct {
			Series []struct {
				QueryIndex int      `json:"query_index"`
				GroupTags  []string `json:"group_tags"`
			} `json:"series"`
			Times  []int64      `json:"times"`
			Values [][]*float64 `json:"values"`
		} `json:"attributes"`
	} `json:"data"`
	Errors string `json:"errors"`
}

// Fetch gets every query's one-minute points in [start, end). A query
// that groups (by {...}) answers several series; their points are added.
func (p *Provider) Fetch(ctx context.Context, start, end time.Time, qs []analysis.Query) (map[string]analysis.Series, error) {
	out := map[string]analysis.Series{}
	for lo := 0; lo < len(qs); lo += MaxQueries {
		chunk := qs[lo:min(lo+MaxQueries, len(qs))]
		var body request
		body.Data.Type = "timeseries_request"
		a := &body.Data.Attributes
		a.From, a.To, a.Interval = start.UnixMilli(), end.UnixMilli(), analysis.Period.Milliseconds()
		for i, q := range chunk {
			if q.DatadogQuery == "" {
				return nil, fmt.Errorf("query %s has no Datadog query", q.ID)
			}
			name := fmt.Sprintf("q%d", i)
			a.Queries = append(a.Queries, query{DataSource: "metrics", Query: q.DatadogQuery, Name: name})
			a.Formulas = append(a.Formulas, formula{Formula: name})
		}
		res, err := p.post(ctx, body)
		if err != nil {
			return nil, err
		}
		at := res.Data.Attributes
		if len(at.Values) != len(at.Series) {
			return nil, fmt.Errorf("datadog query: %d series but %d value lists", len(at.Series), len(at.Values))
		}
		sums := map[int]map[int64]float64{}
		for i, s := range at.Series {
			if s.QueryIndex < 0 || s.QueryIndex >= len(chunk) {
				return nil, fmt.Errorf("datadog query: series for query_index %d of %d queries", s.QueryIndex, len(chunk))
			}
			vs := at.Values[i]
			if len(vs) != len(at.Times) {
				return nil, fmt.Errorf("datadog query: %d values for %d times", len(vs), len(at.Times))
			}
			m := sums[s.QueryIndex]
			if m == nil {
				m = map[int64]float64{}
				sums[s.QueryIndex] = m
			}
			for k, v := range vs {
				if v != nil {
					m[at.Times[k]] += *v
				}
			}
		}
		for qi, m := range sums {
			s := out[chunk[qi].ID]
			for t, v := range m {
				if at := time.UnixMilli(t).UTC(); !at.Before(start) && at.Before(end) {
					s = append(s, analysis.Point{At: at, Value: v})
				}
			}
			s.Sort()
			out[chunk[qi].ID] = s
		}
	}
	return out, nil
}

func (p *Provider) post(ctx context.Context, body request) (*response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(p.BaseURL, "/")+Path, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("datadog query: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("DD-API-KEY", p.APIKey)
	req.Header.Set("DD-APPLICATION-KEY", p.AppKey)
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	p.Calls++
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("datadog query: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("datadog query: reading the answer: %w", err)
	}
	if len(raw) > maxBody {
		return nil, fmt.Errorf("datadog query: answer larger than %d bytes", maxBody)
	}
	var res response
	jerr := json.Unmarshal(raw, &res)
	if resp.StatusCode != http.StatusOK {
		msg := res.Errors
		if msg == "" {
			msg = strings.TrimSpace(string(raw[:min(len(raw), 200)]))
		}
		return nil, fmt.Errorf("datadog query: HTTP %d: %s", resp.StatusCode, msg)
	}
	if jerr != nil {
		return nil, fmt.Errorf("datadog query: %w", jerr)
	}
	if res.Errors != "" {
		return nil, fmt.Errorf("datadog query: %s", res.Errors)
	}
	return &res, nil
}
