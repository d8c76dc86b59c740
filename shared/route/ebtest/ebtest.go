// Package ebtest is a second, independent reading of the EventBridge event
// pattern language, for tests: it checks a rendered pattern's syntax and
// evaluates it on an event, working on plain JSON (never on route.Pattern),
// so that tests can show that the JSON the CDK app deploys and the Go
// matcher the functions use (route.Pattern.Match) take the same events.
//
// It follows the EventBridge user guide's "Event patterns" and "Content
// filtering" pages for what kaizen renders: exact strings, {"prefix": ...},
// nested objects and "$or". Other matchers (suffix, anything-but, numeric,
// exists, cidr, wildcard, equals-ignore-case) are recognized by Valid but
// not evaluated by Match, which reports them as an error.
package ebtest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// MaxSize is EventBridge's default quota on a pattern's size in characters.
const MaxSize = 2048

// envelope are the top-level fields of an event a pattern may test.
var envelope = map[string]bool{
	"version": true, "id": true, "detail-type": true, "source": true, "account": true,
	"time": true, "region": true, "resources": true, "detail": true,
}

// matchers are the operators EventBridge knows inside a field's list.
var matchers = map[string]bool{
	"prefix": true, "suffix": true, "anything-but": true, "numeric": true, "exists": true,
	"cidr": true, "wildcard": true, "equals-ignore-case": true,
}

// Valid checks that b is an event pattern EventBridge accepts: a JSON
// object of at most MaxSize characters whose top-level keys are event
// fields, whose leaves are non-empty arrays of scalars or one-operator
// matcher objects, and whose "$or" lists hold at least two objects.
func Valid(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	compact, _ := json.Marshal(v)
	if n := len(compact); n > MaxSize {
		return fmt.Errorf("pattern is %d characters, more than %d", n, MaxSize)
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return fmt.Errorf("a pattern is a non-empty JSON object")
	}
	for k := range m {
		if k != "$or" && !envelope[k] {
			return fmt.Errorf("top-level key %q is not an event field", k)
		}
	}
	return validObject("", m)
}

func validObject(path string, m map[string]any) error {
	if len(m) == 0 {
		return fmt.Errorf("%s: empty object", orRoot(path))
	}
	for k, v := range m {
		p := path + "." + k
		if k == "" {
			return fmt.Errorf("%s: empty key", orRoot(path))
		}
		if k == "$or" {
			alts, ok := v.([]any)
			if !ok || len(alts) < 2 {
				return fmt.Errorf("%s: $or needs a list of at least two objects", p)
			}
			for i, a := range alts {
				am, ok := a.(map[string]any)
				if !ok {
					return fmt.Errorf("%s[%d]: not an object", p, i)
				}
				if err := validObject(fmt.Sprintf("%s[%d]", p, i), am); err != nil {
					return err
				}
			}
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			if err := validObject(p, v); err != nil {
				return err
			}
		case []any:
			if len(v) == 0 {
				return fmt.Errorf("%s: empty list", p)
			}
			for i, x := range v {
				if err := validLeaf(fmt.Sprintf("%s[%d]", p, i), x); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("%s: a field's values must be a list, not %T", p, v)
		}
	}
	return nil
}

func validLeaf(path string, x any) error {
	switch x := x.(type) {
	case string, float64, bool, nil:
		return nil
	case map[string]any:
		if len(x) != 1 {
			return fmt.Errorf("%s: a matcher object has exactly one operator, not %d", path, len(x))
		}
		for op, arg := range x {
			if !matchers[op] {
				return fmt.Errorf("%s: unknown matcher %q", path, op)
			}
			if op == "prefix" || op == "suffix" {
				s, ok := arg.(string)
				if !ok || s == "" {
					return fmt.Errorf("%s: %s needs a non-empty string", path, op)
				}
			}
		}
		return nil
	}
	return fmt.Errorf("%s: %T is not a value EventBridge matches", path, x)
}

func orRoot(p string) string {
	if p == "" {
		return "pattern"
	}
	return strings.TrimPrefix(p, ".")
}

// Match evaluates a pattern on an event, both as JSON. It returns an error
// for a matcher it does not evaluate.
func Match(pattern, event []byte) (bool, error) {
	var p, e map[string]any
	if err := json.Unmarshal(pattern, &p); err != nil {
		return false, fmt.Errorf("pattern: %v", err)
	}
	if err := json.Unmarshal(event, &e); err != nil {
		return false, fmt.Errorf("event: %v", err)
	}
	return object(p, e)
}

// object: every field of the pattern must match the event's field of the
// same name; "$or" holds when any alternative does.
func object(p, e map[string]any) (bool, error) {
	for k, want := range p {
		if k == "$or" {
			matched := false
			for _, alt := range want.([]any) {
				ok, err := object(alt.(map[string]any), e)
				if err != nil {
					return false, err
				}
				matched = matched || ok
			}
			if !matched {
				return false, nil
			}
			continue
		}
		got, present := e[k]
		if !present {
			return false, nil
		}
		ok, err := field(want, got)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// field matches one pattern value against one event value. An event value
// that is an array matches when any of its elements does.
func field(want, got any) (bool, error) {
	if arr, ok := got.([]any); ok {
		for _, g := range arr {
			ok, err := field(want, g)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false, nil
		}
		return object(w, g)
	case []any:
		for _, x := range w {
			ok, err := leaf(x, got)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("pattern value %T", want)
}

func leaf(x, got any) (bool, error) {
	switch x := x.(type) {
	case string:
		s, ok := got.(string)
		return ok && s == x, nil
	case float64:
		n, ok := got.(float64)
		return ok && n == x, nil
	case bool:
		b, ok := got.(bool)
		return ok && b == x, nil
	case nil:
		return got == nil, nil
	case map[string]any:
		if s, ok := x["prefix"].(string); ok && len(x) == 1 {
			g, ok := got.(string)
			return ok && strings.HasPrefix(g, s), nil
		}
		return false, fmt.Errorf("matcher %v is not evaluated here", x)
	}
	return false, fmt.Errorf("pattern leaf %T", x)
}
