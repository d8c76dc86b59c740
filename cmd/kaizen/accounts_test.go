package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kaizen-sre/kaizen/shared/config"
)

func TestStatusShowsTheAccountOfEachApp(t *testing.T) {
	one, err := config.Load("examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	if w := where(one, &one.Apps[0]); w != "" {
		t.Errorf("one account: where = %q, want nothing", w)
	}
	if opsFleets(one, awsCfgForTest(), nil, "") != nil {
		t.Error("one account: the operator commands got per-account fleets")
	}
	many, err := config.Load("examples/kaizen-multiaccount.json")
	if err != nil {
		t.Fatal(err)
	}
	billing, _ := many.App("billing")
	shop, _ := many.App("shop")
	if opsFleets(many, awsCfgForTest(), nil, "") == nil {
		t.Error("apps in two accounts: no per-account fleets")
	}
	for _, c := range []struct {
		app  *config.App
		want string
	}{
		{shop, "account  111122223333 eu-west-1\n"},
		{billing, "account  444455556666 eu-west-1 (role arn:aws:iam::444455556666:role/kaizen-member)\n"},
	} {
		var b bytes.Buffer
		printStatus(&b, AppStatus{App: c.app.Name, Where: where(many, c.app)})
		if !strings.Contains(b.String(), c.want) {
			t.Errorf("status of %s:\n%s\nwant a line %q", c.app.Name, b.String(), c.want)
		}
	}
}

func awsCfgForTest() aws.Config { return aws.Config{Region: "eu-west-1"} }
