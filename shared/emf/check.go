package emf

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Limits of the specification.
const (
	maxMetrics      = 100  // metric definitions per directive
	maxDimensionSet = 30   // keys per dimension set
	maxValues       = 100  // values in a metric member that is an array
	maxDimValue     = 1024 // characters of a dimension value
	maxLineBytes    = 1 << 20
)

// Units are CloudWatch's standard units, the ones a metric definition may
// name.
var Units = map[string]bool{
	"Seconds": true, "Microseconds": true, "Milliseconds": true, "Bytes": true, "Kilobytes": true, "Megabytes": true,
	"Gigabytes": true, "Terabytes": true, "Bits": true, "Kilobits": true, "Megabits": true, "Gigabits": true, "Terabits": true,
	"Percent": true, "Count": true, "Bytes/Second": true, "Kilobytes/Second": true, "Megabytes/Second": true,
	"Gigabytes/Second": true, "Terabytes/Second": true, "Bits/Second": true, "Kilobits/Second": true,
	"Megabits/Second": true, "Gigabits/Second": true, "Terabits/Second": true, "Count/Second": true, "None": true,
}

// Parsed is one EMF line, read.
type Parsed struct {
	Timestamp  int64
	Namespace  string
	Dimensions [][]string
	// Values are the metrics' values by name, Units their units.
	Values map[string]float64
	Units  map[string]string
	// Root is the whole object.
	Root map[string]any
}

// Check reads one log line as an EMF document and checks it against the
// specification: one JSON object and nothing else, "_aws" with a numeric
// Timestamp and a CloudWatchMetrics array of directives, each with a
// Namespace, dimension sets whose keys name string members of the root,
// and metric definitions whose names name numeric members. The error names
// what is wrong.
func Check(line []byte) (Parsed, error) {
	var p Parsed
	line = bytes.TrimRight(line, "\n")
	if len(line) > maxLineBytes {
		return p, fmt.Errorf("line is %d bytes, over the log event limit", len(line))
	}
	if bytes.ContainsRune(line, '\n') {
		return p, fmt.Errorf("line holds a line break: one event per line")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&p.Root); err != nil {
		return p, fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return p, fmt.Errorf("data after the JSON object")
	}
	meta, ok := p.Root["_aws"].(map[string]any)
	if !ok {
		return p, fmt.Errorf("_aws: missing or not an object")
	}
	ts, ok := meta["Timestamp"].(json.Number)
	if !ok {
		return p, fmt.Errorf("_aws.Timestamp: missing or not a number")
	}
	n, err := ts.Int64()
	if err != nil || n <= 0 {
		return p, fmt.Errorf("_aws.Timestamp: %s is not epoch milliseconds", ts)
	}
	p.Timestamp = n
	dirs, ok := meta["CloudWatchMetrics"].([]any)
	if !ok || len(dirs) == 0 {
		return p, fmt.Errorf("_aws.CloudWatchMetrics: missing, empty or not an array")
	}
	p.Values, p.Units = map[string]float64{}, map[string]string{}
	for i, d := range dirs {
		dir, ok := d.(map[string]any)
		if !ok {
			return p, fmt.Errorf("_aws.CloudWatchMetrics[%d]: not an object", i)
		}
		at := fmt.Sprintf("_aws.CloudWatchMetrics[%d]", i)
		ns, _ := dir["Namespace"].(string)
		if ns == "" || len(ns) > 255 {
			return p, fmt.Errorf("%s.Namespace: want 1 to 255 characters, got %q", at, ns)
		}
		p.Namespace = ns
		sets, ok := dir["Dimensions"].([]any)
		if !ok {
			return p, fmt.Errorf("%s.Dimensions: missing or not an array", at)
		}
		for j, s := range sets {
			keys, ok := s.([]any)
			if !ok || len(keys) > maxDimensionSet {
				return p, fmt.Errorf("%s.Dimensions[%d]: want an array of at most %d keys", at, j, maxDimensionSet)
			}
			var set []string
			for _, k := range keys {
				name, _ := k.(string)
				v, ok := p.Root[name].(string)
				if !ok || v == "" || len(v) > maxDimValue {
					return p, fmt.Errorf("%s.Dimensions[%d]: %q must name a string member of 1 to %d characters", at, j, name, maxDimValue)
				}
				set = append(set, name)
			}
			p.Dimensions = append(p.Dimensions, set)
		}
		defs, ok := dir["Metrics"].([]any)
		if !ok || len(defs) == 0 || len(defs) > maxMetrics {
			return p, fmt.Errorf("%s.Metrics: want 1 to %d metric definitions", at, maxMetrics)
		}
		for j, m := range defs {
			def, ok := m.(map[string]any)
			if !ok {
				return p, fmt.Errorf("%s.Metrics[%d]: not an object", at, j)
			}
			name, _ := def["Name"].(string)
			if name == "" || len(name) > 255 {
				return p, fmt.Errorf("%s.Metrics[%d].Name: want 1 to 255 characters, got %q", at, j, name)
			}
			if u, ok := def["Unit"]; ok {
				us, _ := u.(string)
				if !Units[us] {
					return p, fmt.Errorf("%s.Metrics[%d].Unit: %v is not a CloudWatch unit", at, j, u)
				}
				p.Units[name] = us
			}
			switch v := p.Root[name].(type) {
			case json.Number:
				f, err := v.Float64()
				if err != nil {
					return p, fmt.Errorf("metric %s: %w", name, err)
				}
				p.Values[name] = f
			case []any:
				if len(v) == 0 || len(v) > maxValues {
					return p, fmt.Errorf("metric %s: want 1 to %d values", name, maxValues)
				}
				for _, x := range v {
					if _, ok := x.(json.Number); !ok {
						return p, fmt.Errorf("metric %s: %v is not a number", name, x)
					}
				}
			default:
				return p, fmt.Errorf("metric %s: the root has no numeric member of that name", name)
			}
		}
	}
	return p, nil
}

// Lines checks every line of out (a function's log), skipping lines that
// are not EMF (no "_aws" member), and returns the EMF ones.
func Lines(out []byte) ([]Parsed, error) {
	var res []Parsed
	for i, l := range bytes.Split(out, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 || !bytes.Contains(l, []byte(`"_aws"`)) {
			continue
		}
		p, err := Check(l)
		if err != nil {
			return res, fmt.Errorf("line %d: %w", i+1, err)
		}
		res = append(res, p)
	}
	return res, nil
}
