package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/kaizen-sre/kaizen/infra/stacks"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// TestSynthIsDeterministic synthesizes the kaizen stack a second time from
// the same inputs, with the bootstraps copied elsewhere and another staging
// and output directory: the function assets must hash the same, byte for
// byte, or every deploy would replace every function.
func TestSynthIsDeterministic(t *testing.T) {
	first := full(t)
	assets := filepath.Join(scratch, "assets-copy")
	for _, fn := range route.Functions {
		b, err := os.ReadFile(filepath.Join(scratch, "assets", fn, stacks.BootstrapFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(assets, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(assets, fn, stacks.BootstrapFile), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	second := synth(t, inputs{name: "again", config: filepath.Join(repoRoot, exampleConfig), assets: assets})

	t.Run("function asset hashes are byte-identical", func(t *testing.T) {
		a, b := codeKeys(t, first), codeKeys(t, second)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("asset hashes differ:\n%v\n%v", a, b)
		}
	})

	t.Run("the asset manifests name the same function assets", func(t *testing.T) {
		a, b := fileAssets(t, first), fileAssets(t, second)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("asset manifests differ:\n%v\n%v", a, b)
		}
	})

	t.Run("the kaizen templates are byte-identical", func(t *testing.T) {
		a, err := os.ReadFile(filepath.Join(first.outdir, "Kaizen.template.json"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(second.outdir, "Kaizen.template.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Error("two synths of the same inputs gave different Kaizen templates")
		}
	})
}

// fileAssets lists the kaizen stack's file assets (hash → packaging) from
// its asset manifest.
func fileAssets(t *testing.T, s *synthesized) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.outdir, "Kaizen.assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Files map[string]struct {
			Source struct {
				Path      string `json:"path"`
				Packaging string `json:"packaging"`
			} `json:"source"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for hash, f := range m.Files {
		if f.Source.Packaging == "zip" {
			out[hash] = f.Source.Path
		}
	}
	if len(out) != len(route.Functions) {
		t.Errorf("%d zip assets, want one per function: %v", len(out), out)
	}
	return out
}

// TestBuildRefuses checks that bad inputs stop synth with an error that
// says what to fix, before any stack is built.
func TestBuildRefuses(t *testing.T) {
	assets := fakeAssets(t, "assets")
	example := filepath.Join(repoRoot, exampleConfig)
	badConfig := filepath.Join(scratch, "bad-config.json")
	raw, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badConfig, bytes.Replace(raw, []byte(`"asg": "shop-blue"`), []byte(`"asg": ""`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		ctx  map[string]any
		want string
	}{
		{"a configuration error names the field", map[string]any{ctxConfig: badConfig}, "apps[0].blue.asg: required"},
		{"no configuration path", map[string]any{ctxConfig: ""}, ctxConfig},
		{"missing bootstraps say to build them", map[string]any{ctxAssets: filepath.Join(scratch, "no-such-dir")}, "make build"},
		{"a flag that is not a boolean", map[string]any{ctxFleet: "yes"}, ctxFleet},
		{"a fleet without an AMI", map[string]any{ctxFleet: "true", ctxFleetAMI: ""}, ctxFleetAMI},
		{"an unknown reference app", map[string]any{ctxPipeline: true, ctxApp: "nope"}, `no app "nope"`},
		{"three availability zones", map[string]any{ctxFleet: true, ctxFleetAMI: "ami-0123456789abcdef0", ctxAvailabilityZones: "eu-west-1a,eu-west-1b,eu-west-1c"}, ctxAvailabilityZones},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := map[string]any{ctxConfig: example, ctxAssets: assets, ctxStaging: filepath.Join(scratch, "refused")}
			for k, v := range c.ctx {
				ctx[k] = v
			}
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(scratch, "refused-out")), Context: &ctx})
			_, err := build(app)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("build: %v, want an error containing %q", err, c.want)
			}
			if n := len(*app.Node().Children()); n != 0 {
				t.Errorf("%d stacks built before the error", n)
			}
		})
	}
}

func TestStageAssets(t *testing.T) {
	assets := fakeAssets(t, "assets")
	config := []byte(`{"example": true}`)
	dir := filepath.Join(scratch, "stage-test")
	stale := filepath.Join(dir, route.Stage, "old-bootstrap.bak")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	first, err := stacks.StageAssets(assets, dir, config)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("each function gets exactly its bootstrap and the configuration", func(t *testing.T) {
		for _, fn := range route.Functions {
			a := first[fn]
			entries, err := os.ReadDir(a.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 2 {
				t.Errorf("%s: %d files, want bootstrap and kaizen.json", fn, len(entries))
			}
			b, _ := os.ReadFile(filepath.Join(a.Dir, stacks.ConfigFile))
			if !bytes.Equal(b, config) {
				t.Errorf("%s: kaizen.json = %q", fn, b)
			}
			st, err := os.Stat(filepath.Join(a.Dir, stacks.BootstrapFile))
			if err != nil || st.Mode().Perm() != 0o755 {
				t.Errorf("%s: bootstrap mode %v (%v)", fn, st.Mode(), err)
			}
		}
	})

	t.Run("the same bytes give the same hash, anywhere", func(t *testing.T) {
		again, err := stacks.StageAssets(assets, filepath.Join(scratch, "stage-test-2"), config)
		if err != nil {
			t.Fatal(err)
		}
		for _, fn := range route.Functions {
			if first[fn].Hash != again[fn].Hash {
				t.Errorf("%s: %s then %s", fn, first[fn].Hash, again[fn].Hash)
			}
		}
		if first[route.Stage].Hash == first[route.Promote].Hash {
			t.Error("two different bootstraps hash the same")
		}
	})

	t.Run("other configuration bytes give another hash", func(t *testing.T) {
		other, err := stacks.StageAssets(assets, dir, []byte(`{"example": false}`))
		if err != nil {
			t.Fatal(err)
		}
		for _, fn := range route.Functions {
			if first[fn].Hash == other[fn].Hash {
				t.Errorf("%s: same hash for another configuration", fn)
			}
		}
	})

	t.Run("a missing bootstrap is an error naming it", func(t *testing.T) {
		_, err := stacks.StageAssets(filepath.Join(scratch, "empty-assets"), dir, config)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(route.Stage, "bootstrap")) {
			t.Errorf("err = %v", err)
		}
	})
}
