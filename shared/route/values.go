package route

import (
	"encoding/json"
	"strings"
)

// Value is one entry of a field's list in a Pattern's detail: an exact
// string, or a prefix (EventBridge's {"prefix": "..."}). A field given as
// []Value matches when any of its values does, as in EventBridge.
//
// Pattern.Match and the JSON a Pattern renders to (what the CDK app deploys)
// support the same pieces of the pattern language and nothing else:
// []string and []Value lists, nested objects, and Or. That keeps the rule
// EventBridge evaluates and the check the functions make the same test.
type Value struct {
	S      string
	Prefix bool
}

// Exact is a Value that matches s exactly.
func Exact(s string) Value { return Value{S: s} }

// HasPrefix is a Value that matches any string starting with s.
func HasPrefix(s string) Value { return Value{S: s, Prefix: true} }

// Match reports whether s is matched by v.
func (v Value) Match(s string) bool {
	if v.Prefix {
		return strings.HasPrefix(s, v.S)
	}
	return s == v.S
}

// MarshalJSON renders v in the EventBridge pattern language.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.Prefix {
		return json.Marshal(map[string]string{"prefix": v.S})
	}
	return json.Marshal(v.S)
}

// Or is the detail key whose value, a []map[string]any, matches when any of
// its alternatives does (EventBridge's "$or").
const Or = "$or"

// matchValue reports whether a field of an event (any JSON value) matches
// test. Like EventBridge, a field that is an array matches when one of its
// elements does; only strings can match.
func matchValue(got any, test func(string) bool) bool {
	switch g := got.(type) {
	case string:
		return test(g)
	case []any:
		for _, x := range g {
			if s, ok := x.(string); ok && test(s) {
				return true
			}
		}
	}
	return false
}

func matchValues(vs []Value, s string) bool {
	for _, v := range vs {
		if v.Match(s) {
			return true
		}
	}
	return false
}
