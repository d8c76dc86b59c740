package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// scan walks the JSON document along the Go types it decodes into, before
// encoding/json gets to it, because encoding/json is lenient in ways a
// configuration must not be: it matches keys case-insensitively ("BakeMinutes"
// fills bakeMinutes), keeps the last of two equal keys, ignores data after the
// document, and names a mistyped field without its index. The known keys come
// from the json tags of the types, so a new field needs no list kept in step.
//
// scan returns the keys present (canonical paths such as
// "apps[0].bakeMinutes", null values left out), the key and type problems it
// found, each naming its path as written, and a fatal error when the document
// is not JSON or has trailing data.
type scanner struct {
	src     []byte
	dec     *json.Decoder
	present map[string]bool
	errs    []error // unknown, misspelled-case and duplicate keys; values of the wrong type
	nType   int     // how many of errs are values of the wrong type
}

func scan(b []byte, root reflect.Type) (*scanner, error) {
	s := &scanner{src: b, dec: json.NewDecoder(bytes.NewReader(b)), present: map[string]bool{}}
	s.dec.UseNumber()
	if _, err := s.value("", "", root); err != nil {
		return nil, s.syntax(err)
	}
	end := s.dec.InputOffset()
	if _, err := s.dec.Token(); err != io.EOF {
		off := end + int64(len(b[end:])-len(bytes.TrimLeft(b[end:], " \t\r\n")))
		return nil, fmt.Errorf("decode: %s: trailing data after the JSON document", s.position(off))
	}
	return s, nil
}

func (s *scanner) syntax(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("decode: %s: %s", s.position(se.Offset), se.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("decode: the document ends early (or is empty)")
	}
	return fmt.Errorf("decode: %w", err)
}

// position turns a byte offset into "line L, column C".
func (s *scanner) position(off int64) string {
	off = min(max(off, 0), int64(len(s.src)))
	before := s.src[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}

// value consumes one JSON value expected to decode into t. It reports whether
// the value was null; errors returned are syntax errors (fatal).
func (s *scanner) value(path, canon string, t reflect.Type) (null bool, err error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := s.dec.Token()
	if err != nil {
		return false, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch {
		case v == '{' && t.Kind() == reflect.Struct:
			return false, s.object(path, canon, t)
		case v == '{' && t.Kind() == reflect.Map:
			for s.dec.More() {
				k, err := s.dec.Token()
				if err != nil {
					return false, err
				}
				key, _ := k.(string)
				if _, err := s.value(join(path, key), join(canon, key), t.Elem()); err != nil {
					return false, err
				}
			}
			_, err := s.dec.Token()
			return false, err
		case v == '[' && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
			for i := 0; s.dec.More(); i++ {
				ix := fmt.Sprintf("[%d]", i)
				if _, err := s.value(path+ix, canon+ix, t.Elem()); err != nil {
					return false, err
				}
			}
			_, err := s.dec.Token()
			return false, err
		case t.Kind() == reflect.Interface:
			return false, s.skip()
		}
		got := "an object"
		if v == '[' {
			got = "an array"
		}
		s.typeErr(path, t, got)
		return false, s.skip()
	case nil:
		return true, nil // encoding/json leaves the field alone
	case string:
		if t.Kind() != reflect.String && t.Kind() != reflect.Interface {
			s.typeErr(path, t, fmt.Sprintf("the string %q", v))
		}
	case bool:
		if t.Kind() != reflect.Bool && t.Kind() != reflect.Interface {
			s.typeErr(path, t, strconv.FormatBool(v))
		}
	case json.Number:
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if _, err := strconv.ParseInt(string(v), 10, t.Bits()); err != nil {
				s.typeErr(path, t, "the number "+string(v))
			}
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if _, err := strconv.ParseUint(string(v), 10, t.Bits()); err != nil {
				s.typeErr(path, t, "the number "+string(v))
			}
		case reflect.Float32, reflect.Float64, reflect.Interface:
		default:
			s.typeErr(path, t, "the number "+string(v))
		}
	}
	return false, nil
}

func (s *scanner) object(path, canon string, t reflect.Type) error {
	fields := jsonFields(t)
	seen := map[string]string{} // canonical name -> key as written
	for s.dec.More() {
		k, err := s.dec.Token()
		if err != nil {
			return err
		}
		key, _ := k.(string)
		kp := join(path, key)
		f, exact := fields[key]
		if !exact {
			for name, ff := range fields {
				if strings.EqualFold(name, key) {
					f = ff
					s.errs = append(s.errs, &FieldError{Field: kp, Msg: fmt.Sprintf("unknown key %q: the field is spelled %q (keys are case-sensitive)", key, name)})
					break
				}
			}
		}
		if f.typ == nil {
			msg := fmt.Sprintf("unknown key %q", key)
			if near := nearest(key, fields); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			}
			s.errs = append(s.errs, &FieldError{Field: kp, Msg: msg})
			if err := s.skipValue(); err != nil {
				return err
			}
			continue
		}
		if prev, dup := seen[f.name]; dup {
			s.errs = append(s.errs, &FieldError{Field: kp, Msg: fmt.Sprintf("duplicate key: %s is already set by %q", join(path, f.name), prev)})
		}
		seen[f.name] = key
		null, err := s.value(kp, join(canon, f.name), f.typ)
		if err != nil {
			return err
		}
		if !null {
			s.present[join(canon, f.name)] = true
		}
	}
	_, err := s.dec.Token() // '}'
	return err
}

func (s *scanner) typeErr(path string, t reflect.Type, got string) {
	if path == "" {
		path = "(document)"
	}
	s.errs = append(s.errs, &FieldError{Field: path, Msg: fmt.Sprintf("must be %s, got %s", kindName(t), got)})
	s.nType++
}

// skipValue consumes the next value whatever it is.
func (s *scanner) skipValue() error {
	tok, err := s.dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
		return s.skip()
	}
	return nil
}

// skip consumes the rest of an object or array whose opening delimiter was read.
func (s *scanner) skip() error {
	for depth := 1; depth > 0; {
		tok, err := s.dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields maps a struct's JSON keys to their fields, as encoding/json
// names them: the tag's name, else the Go name; "-" and unexported fields
// are not keys; untagged embedded structs lend their keys.
func jsonFields(t reflect.Type) map[string]jsonField {
	out := map[string]jsonField{}
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := sf.Type
		if sf.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, f := range jsonFields(ft) {
					if _, ok := out[k]; !ok {
						out[k] = f
					}
				}
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out[name] = jsonField{name: name, typ: ft}
	}
	return out
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	}
	return "a number"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// nearest returns the known key within two edits of key, if exactly one is.
func nearest(key string, fields map[string]jsonField) string {
	best, n := "", 0
	for name := range fields {
		if editDistance(strings.ToLower(key), strings.ToLower(name)) <= 2 {
			best, n = name, n+1
		}
	}
	if n != 1 {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
