package route

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// MaxPatternSize is EventBridge's default quota on the size of one rule's
// event pattern, in characters (adjustable up to 4096). RulesFor splits a
// narrowed rule whose lists would not fit into several rules.
const MaxPatternSize = 2048

// RulesFor returns the rules of Rules(), each narrowed to the resources the
// configuration names, so that EventBridge invokes a function only for
// events that may concern it: guard is not invoked for every alarm of the
// account, nor secretchange for every secret written. These are the rules
// the CDK app deploys.
//
// A narrowed rule whose configuration names nothing (no app has an alarm,
// a secret, a CodeBuild rebuild) is left out: an empty list is not valid
// EventBridge syntax, and an account-wide rule is what narrowing avoids.
// A rule whose lists grow past MaxPatternSize becomes several rules named
// "<name>", "<name>-2", and so on.
//
// The functions keep checking events against the generic Rules() and then
// against the configuration, exactly, so a narrowed rule may let through a
// little more than one app's resource (see each narrower) but never less.
func RulesFor(f *config.File) []Rule {
	var out []Rule
	for _, r := range Rules() {
		n, ok := narrowers[r.Name]
		if !ok {
			// AccountWide lists these and why.
			out = append(out, r)
			continue
		}
		out = append(out, n(r, f)...)
	}
	return out
}

// AccountWide names the rules RulesFor leaves as Rules() has them, and why
// they cannot be narrowed by the configuration.
var AccountWide = map[string]string{
	// EC2 AMI state change events carry the AMI id and state only, no
	// tags: whether the AMI is an app's is known only after DescribeImages,
	// so stage takes every AMI of the account and filters by the app's tag.
	"ami-available": "EC2 AMI State Change events carry no tags; stage filters AMIs by the app's image tag",
	// The configuration names no Image Builder pipeline or image: stage
	// sweeps for each app's newest tagged AMI instead.
	"imagebuilder-available": "the configuration names no Image Builder image; stage sweeps for each app's newest tagged AMI",
}

type narrower func(r Rule, f *config.File) []Rule

var narrowers = map[string]narrower{
	// Production's automated snapshots, of the configured sources; the
	// configured scrub projects' ended builds (rds.go).
	"rds-snapshot-created": narrowRDSSnapshot,
	"scrub-build":          narrowScrubBuild,
	// A build of an app's rebuild project exported the new AMI. Apps that
	// rebuild through a pipeline are staged by the AMI event or tick's
	// sweep instead.
	"codebuild-succeeded": func(r Rule, f *config.File) []Rule {
		return split(r, codeBuildProjects(f), func(p Pattern, names []string) Pattern {
			p.Detail["project-name"] = exacts(names)
			return p
		})
	},
	// The approval actions that promote. Pipelines, stages and actions are
	// listed separately, so a rule also takes another combination of them
	// (pipeline A's stage and pipeline B's action); promote matches the
	// exact triple and ignores the rest.
	"approval": func(r Rule, f *config.File) []Rule {
		return split(r, approvals(f), func(p Pattern, as []config.Approval) Pattern {
			var pipelines, stages, actions []string
			for _, a := range as {
				pipelines, stages, actions = append(pipelines, a.Pipeline), append(stages, a.Stage), append(actions, a.Action)
			}
			p.Detail["pipeline"], p.Detail["stage"], p.Detail["action"] = exacts(pipelines), exacts(stages), exacts(actions)
			return p
		})
	},
	// The configured alarms, guard and capacity alike.
	"alarm": func(r Rule, f *config.File) []Rule {
		var names []string
		for _, a := range f.Apps {
			for _, al := range a.Alarms {
				names = append(names, al.Name)
			}
		}
		return split(r, uniq(names), func(p Pattern, names []string) Pattern {
			p.Detail["alarmName"] = exacts(names)
			return p
		})
	},
	// PutSecretValue and UpdateSecret name the secret in
	// requestParameters.secretId, as the caller gave it: a name, a full
	// ARN or a partial ARN.
	"secret-write": func(r Rule, f *config.File) []Rule {
		return split(r, secrets(f), func(p Pattern, vs [][]Value) Pattern {
			p.Detail["requestParameters"] = map[string]any{"secretId": uniqValues(slices.Concat(vs...)...)}
			return p
		})
	},
	// RotationSucceeded names the secret by its ARN in
	// additionalEventData.SecretId (serviceEventDetails.secretId is
	// accepted too, as route.SecretDetail does).
	"secret-rotated": func(r Rule, f *config.File) []Rule {
		return split(r, secrets(f), func(p Pattern, vs [][]Value) Pattern {
			ids := uniqValues(slices.Concat(vs...)...)
			p.Detail[Or] = []map[string]any{
				{"additionalEventData": map[string]any{"SecretId": ids}},
				{"serviceEventDetails": map[string]any{"secretId": ids}},
			}
			return p
		})
	},
}

// split builds the rule with all items, or, when that pattern would be
// larger than MaxPatternSize, several rules with as many items each as fit.
func split[T any](r Rule, items []T, with func(Pattern, []T) Pattern) []Rule {
	if len(items) == 0 {
		return nil
	}
	var chunks [][]T
	var cur []T
	for _, it := range items {
		next := append(slices.Clone(cur), it)
		if len(cur) > 0 && PatternSize(with(clonePattern(r.Pattern), next)) > MaxPatternSize {
			chunks = append(chunks, cur)
			cur = []T{it}
			continue
		}
		cur = next
	}
	chunks = append(chunks, cur)
	out := make([]Rule, 0, len(chunks))
	for i, c := range chunks {
		name := r.Name
		if i > 0 {
			name = fmt.Sprintf("%s-%d", r.Name, i+1)
		}
		out = append(out, Rule{Function: r.Function, Name: name, Pattern: with(clonePattern(r.Pattern), c)})
	}
	return out
}

// PatternSize is the length of the pattern's JSON, as EventBridge counts
// it against MaxPatternSize.
func PatternSize(p Pattern) int {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		panic(err) // only strings, lists and maps go in
	}
	return len(bytes.TrimSpace(b.Bytes()))
}

func clonePattern(p Pattern) Pattern {
	return Pattern{Source: slices.Clone(p.Source), DetailType: slices.Clone(p.DetailType), Detail: cloneDetail(p.Detail)}
}

// cloneDetail deep-copies a detail; a nil one becomes an empty map, ready
// for a narrower's fields.
func cloneDetail(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			out[k] = cloneDetail(v)
		case []string:
			out[k] = slices.Clone(v)
		case []Value:
			out[k] = slices.Clone(v)
		case []map[string]any:
			alts := make([]map[string]any, len(v))
			for i, a := range v {
				alts[i] = cloneDetail(a)
			}
			out[k] = alts
		default:
			panic(fmt.Sprintf("route: pattern field %q has unsupported type %T", k, v))
		}
	}
	return out
}

func exacts(xs []string) []Value {
	out := make([]Value, 0, len(xs))
	for _, x := range uniq(xs) {
		out = append(out, Exact(x))
	}
	return out
}

// codeBuildProjects are the apps' rebuild projects by name, as CodeBuild
// events carry them (the configuration may give an ARN).
func codeBuildProjects(f *config.File) []string {
	var out []string
	for _, a := range f.Apps {
		p := a.Rebuild.CodeBuildProject
		if p == "" {
			continue
		}
		if strings.HasPrefix(p, "arn:") {
			if i := strings.Index(p, ":project/"); i >= 0 {
				p = p[i+len(":project/"):]
			}
		}
		out = append(out, p)
	}
	return uniq(out)
}

func approvals(f *config.File) []config.Approval {
	var out []config.Approval
	for _, a := range f.Apps {
		if a.Approval.Pipeline == "" || slices.Contains(out, a.Approval) {
			continue
		}
		out = append(out, a.Approval)
	}
	return out
}

// secrets lists, per configured secret, the values an event's secret id
// may take for it (SecretIDs).
func secrets(f *config.File) [][]Value {
	var out [][]Value
	seen := map[string]bool{}
	for i := range f.Apps {
		a := &f.Apps[i]
		if a.Secret == "" || seen[a.Secret] {
			continue
		}
		seen[a.Secret] = true
		out = append(out, SecretIDs(f, a))
	}
	return out
}

// secretSuffix is the "-" and six random characters Secrets Manager
// appends to a secret's name in its ARN.
var secretSuffix = regexp.MustCompile(`-[A-Za-z0-9]{6}$`)

// SecretIDs are the values under which a CloudTrail event may name the
// app's secret: its name, or an ARN of it, full (name and suffix) or
// partial (name only), in the configured account and region. They cover
// every id secretchange.Matches takes for the configured secret:
//
//   - a configured name gives the name, its partial ARN, and the prefix
//     "<partial ARN>-" of its full ARN;
//   - a configured ARN gives its secret name and resource as names, its
//     partial ARN and the prefix "<partial ARN>-".
//
// The prefix also takes a secret whose name extends the app's with a
// hyphen ("shop/production-old"); secretchange ignores it.
func SecretIDs(f *config.File, a *config.App) []Value {
	conf := a.Secret
	if conf == "" {
		return nil
	}
	if p := strings.SplitN(conf, ":", 7); len(p) == 7 && p[0] == "arn" && p[2] == "secretsmanager" && p[5] == "secret" && p[6] != "" {
		res := p[6]
		name := secretSuffix.ReplaceAllString(res, "")
		partial := conf[:len(conf)-len(res)] + name
		return uniqValues(Exact(name), Exact(res), Exact(partial), HasPrefix(partial+"-"))
	}
	partial := fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s", partition(a), f.Region, f.Account, conf)
	return uniqValues(Exact(conf), Exact(partial), HasPrefix(partial+"-"))
}

// partition comes from the app's listener ARN, so that a secret given by
// name gets the ARNs of aws-cn or aws-us-gov there.
func partition(a *config.App) string {
	if p := strings.SplitN(a.ListenerARN, ":", 3); len(p) == 3 && p[0] == "arn" && p[1] != "" {
		return p[1]
	}
	return "aws"
}

func uniq(xs []string) []string {
	var out []string
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func uniqValues(vs ...Value) []Value {
	var out []Value
	for _, v := range vs {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
