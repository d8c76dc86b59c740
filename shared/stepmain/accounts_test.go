package stepmain

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
)

// The functions' fleets: home's for home's apps; a member's through its
// role, assumed at start-up with the real SDK's STS client and stscreds
// (against a local endpoint that records the AssumeRole request).
func TestFleetsAssumeTheMemberRole(t *testing.T) {
	one, err := config.Load("../../examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	if f := fleets("tick", one, aws.Config{Region: one.Region}, &cloud.Fleet{}); f != nil {
		t.Fatal("every app at home: fleets per account made anyway")
	}

	cfg, err := config.Load("../../examples/kaizen-multiaccount.json")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var forms []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		mu.Lock()
		forms = append(forms, r.PostForm)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>denied</Message></Error><RequestId>r</RequestId></ErrorResponse>`))
	}))
	defer srv.Close()
	awsCfg := aws.Config{
		Region:       cfg.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDHOME", "home-secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
	home := &cloud.Fleet{}
	f := fleets("tick", cfg, awsCfg, home)
	if f == nil {
		t.Fatal("an app in a member account: no fleets per account")
	}
	shop, _ := cfg.App("shop")
	billing, _ := cfg.App("billing")
	if f.FleetFor(shop) != home {
		t.Error("shop, at home, does not use the function's own fleet")
	}
	if b := f.FleetFor(billing); b == nil || b == home || b != f.FleetFor(billing) {
		t.Error("billing has no fleet of its own, kept for the container")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(forms) != 1 {
		t.Fatalf("%d AssumeRole requests at start-up, want 1", len(forms))
	}
	got := forms[0]
	if got.Get("Action") != "AssumeRole" || got.Get("RoleArn") != billing.RoleARN || got.Get("RoleSessionName") != "kaizen-tick" {
		t.Errorf("AssumeRole request %v, want role %s, session kaizen-tick", got, billing.RoleARN)
	}
}
