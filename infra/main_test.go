package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/kaizen-sre/kaizen/infra/stacks"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// The tests share a few synthesized apps: starting jsii and synthesizing
// take seconds each on a small machine.

var (
	repoRoot string // the repository root
	scratch  string // removed after the tests
)

const exampleConfig = "examples/kaizen.json"

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repoRoot = root
	// jsii runs on the Node 22 that package.json pins, not whatever node
	// the machine has.
	bin := filepath.Join(root, "node_modules", ".bin")
	if _, err := os.Stat(filepath.Join(bin, "node")); err != nil {
		fmt.Fprintf(os.Stderr, "infra tests need Node 22 from %s to run jsii: run `make deps` first (%v)\n", bin, err)
		return 1
	}
	os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	scratch, err = os.MkdirTemp("", "kaizen-infra-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(scratch)
	defer jsii.Close()
	return m.Run()
}

// inputs are what one synth of the app depends on.
type inputs struct {
	name     string // scratch subdirectory
	config   string // configuration file
	assets   string // <fn>/bootstrap files
	fleet    bool
	pipeline bool
}

// synthesized is one synthesized app.
type synthesized struct {
	stacks    *stacks.Stacks
	outdir    string
	staging   string
	templates map[string]map[string]any // by stack artifact id
}

func (s *synthesized) template(stack awscdk.Stack) map[string]any {
	return s.templates[*stack.ArtifactId()]
}

// synth builds the app as main does, from cdk.json's context with the
// inputs' overrides, and synthesizes it once.
func synth(t *testing.T, in inputs) *synthesized {
	t.Helper()
	dir := filepath.Join(scratch, in.name)
	out := &synthesized{outdir: filepath.Join(dir, "cdk.out"), staging: filepath.Join(dir, "staging"), templates: map[string]map[string]any{}}
	ctx := cdkJSONContext(t)
	ctx[ctxConfig] = in.config
	ctx[ctxAssets] = in.assets
	ctx[ctxStaging] = out.staging
	ctx[ctxFleet] = in.fleet
	ctx[ctxPipeline] = fmt.Sprint(in.pipeline) // as `-c kaizen:pipeline=true` gives it
	ctx[ctxFleetAMI] = "ami-0123456789abcdef0"
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out.outdir), Context: &ctx})
	var err error
	out.stacks, err = build(app)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	app.Synth(nil)
	for _, st := range out.stacks.All() {
		id := *st.ArtifactId()
		b, err := os.ReadFile(filepath.Join(out.outdir, id+".template.json"))
		if err != nil {
			t.Fatal(err)
		}
		var tpl map[string]any
		if err := json.Unmarshal(b, &tpl); err != nil {
			t.Fatal(err)
		}
		out.templates[id] = tpl
	}
	return out
}

// cdkJSONContext is the context of the repository's cdk.json, so tests see
// the feature flags `cdk synth` sees.
func cdkJSONContext(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		App     string         `json:"app"`
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	if c.App != "go run ./infra" {
		t.Fatalf(`cdk.json: app = %q, want "go run ./infra"`, c.App)
	}
	return c.Context
}

// fakeAssets writes small deterministic bootstraps: the functions are built
// elsewhere and need not exist for these tests.
func fakeAssets(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(scratch, name)
	for _, fn := range route.Functions {
		if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("#!/bin/sh\n# fake %s bootstrap for the infra tests\n", fn)
		if err := os.WriteFile(filepath.Join(dir, fn, stacks.BootstrapFile), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var (
	fullOnce sync.Once
	fullApp  *synthesized
)

// full is the example configuration with all three stacks.
func full(t *testing.T) *synthesized {
	t.Helper()
	fullOnce.Do(func() {
		fullApp = synth(t, inputs{
			name:   "full",
			config: filepath.Join(repoRoot, exampleConfig),
			assets: fakeAssets(t, "assets"),
			fleet:  true, pipeline: true,
		})
	})
	if fullApp == nil {
		t.Fatal("the shared app failed to synthesize (see the first failing test)")
	}
	return fullApp
}

// resources returns the template's resources of a type, by logical id.
func resources(tpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tpl["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// ref returns the logical id an intrinsic ({"Ref": id} or
// {"Fn::GetAtt": [id, attr]}) points at.
func ref(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if id, ok := m["Ref"].(string); ok {
		return id
	}
	if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
		id, _ := ga[0].(string)
		return id
	}
	return ""
}

// strs turns a JSON string or list of strings into a list.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			} else {
				b, _ := json.Marshal(x)
				out = append(out, string(b))
			}
		}
		return out
	}
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	return []string{string(b)}
}
