package ebtest

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, c := range []struct {
		pattern string
		ok      bool
	}{
		{`{"source":["aws.ec2"]}`, true},
		{`{"source":["aws.ec2"],"detail":{"a":[{"prefix":"x"},"y"],"b":{"c":[1,null,true]}}}`, true},
		{`{"detail":{"$or":[{"a":["x"]},{"b":["y"]}]}}`, true},
		{`{"source":"aws.ec2"}`, false},                           // a scalar, not a list
		{`{"source":[]}`, false},                                  // empty list
		{`{"detail":{}}`, false},                                  // empty object
		{`{"colour":["blue"]}`, false},                            // not an event field
		{`{"detail":{"a":[{"prefix":""}]}}`, false},               // empty prefix
		{`{"detail":{"a":[{"prefix":"x","suffix":"y"}]}}`, false}, // two operators
		{`{"detail":{"a":[{"startsWith":"x"}]}}`, false},          // unknown operator
		{`{"detail":{"$or":[{"a":["x"]}]}}`, false},               // one alternative
		{`{"detail":{"a":[["x"]]}}`, false},                       // a list in a list
		{`[]`, false},
		{`{"detail":{"a":["` + strings.Repeat("x", MaxSize) + `"]}}`, false},
	} {
		if err := Valid([]byte(c.pattern)); (err == nil) != c.ok {
			t.Errorf("Valid(%s) = %v, want ok %v", c.pattern, err, c.ok)
		}
	}
}

func TestMatch(t *testing.T) {
	const p = `{"source":["aws.x"],"detail":{"id":["a",{"prefix":"arn:x:"}],"n":{"m":["b"]},"$or":[{"p":["1"]},{"q":["2"]}]}}`
	for _, c := range []struct {
		event string
		want  bool
	}{
		{`{"source":"aws.x","detail":{"id":"a","n":{"m":"b"},"p":"1"}}`, true},
		{`{"source":"aws.x","detail":{"id":"arn:x:secret","n":{"m":"b"},"q":"2"}}`, true},
		{`{"source":"aws.x","detail":{"id":["z","a"],"n":{"m":"b"},"q":"2"}}`, true}, // an array matches by any element
		{`{"source":"aws.x","detail":{"id":"arn:y:secret","n":{"m":"b"},"p":"1"}}`, false},
		{`{"source":"aws.x","detail":{"id":"a","n":{"m":"b"}}}`, false},         // no $or alternative
		{`{"source":"aws.x","detail":{"id":"a","n":"b","p":"1"}}`, false},       // not an object
		{`{"source":"aws.x","detail":{"n":{"m":"b"},"p":"1"}}`, false},          // field missing
		{`{"source":"aws.y","detail":{"id":"a","n":{"m":"b"},"p":"1"}}`, false}, // source
		{`{"source":"aws.x","detail":{"id":1,"n":{"m":"b"},"p":"1"}}`, false},   // a number is not a string
	} {
		got, err := Match([]byte(p), []byte(c.event))
		if err != nil || got != c.want {
			t.Errorf("Match(%s) = %v, %v; want %v", c.event, got, err, c.want)
		}
	}
	if _, err := Match([]byte(`{"detail":{"a":[{"numeric":[">",1]}]}}`), []byte(`{"detail":{"a":2}}`)); err == nil {
		t.Error("a matcher Match does not evaluate gave no error")
	}
}
