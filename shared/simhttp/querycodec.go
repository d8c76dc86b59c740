package simhttp

// The awsQuery codec: a smithy.ShapeDeserializer over a request's form and
// a smithy.ShapeSerializer writing the XML result. The SDK types drive them
// through their generated Deserialize and Serialize methods, so these only
// need the protocol's naming rules, mirrored from the SDK's client side
// (smithy-go transport/http/protocol/internal/query and .../xml).

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"maps"
	"math"
	"math/big"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/document"
	smithytime "github.com/aws/smithy-go/time"
	"github.com/aws/smithy-go/traits"
)

// qnode is one level of a query's dotted keys: "A.member.1.B=x" is the path
// root → A → member → 1 → B, where B holds x.
type qnode struct {
	val  string
	kids map[string]*qnode
}

// parseQuery builds the key tree of a form, without Action and Version.
func parseQuery(form url.Values) *qnode {
	root := &qnode{}
	for key, vals := range form {
		if key == "Action" || key == "Version" || len(vals) == 0 {
			continue
		}
		n := root
		for _, part := range strings.Split(key, ".") {
			c := n.kids[part]
			if c == nil {
				if n.kids == nil {
					n.kids = map[string]*qnode{}
				}
				c = &qnode{}
				n.kids[part] = c
			}
			n = c
		}
		n.val = vals[0]
	}
	return root
}

// get returns the child named name, matched exactly or else ignoring case
// (as AWS does), or nil.
func (n *qnode) get(name string) *qnode {
	if n == nil {
		return nil
	}
	if c, ok := n.kids[name]; ok {
		return c
	}
	for k, c := range n.kids {
		if strings.EqualFold(k, name) {
			return c
		}
	}
	return nil
}

// value is the node's value; "" for a missing node.
func (n *qnode) value() string {
	if n == nil {
		return ""
	}
	return n.val
}

// items returns the children numbered 1, 2, ... in order; query lists and
// maps count from one.
func (n *qnode) items() []*qnode {
	if n == nil {
		return nil
	}
	type item struct {
		i int
		n *qnode
	}
	var its []item
	for k, c := range n.kids {
		if i, err := strconv.Atoi(k); err == nil && i > 0 {
			its = append(its, item{i, c})
		}
	}
	slices.SortFunc(its, func(a, b item) int { return cmp.Compare(a.i, b.i) })
	out := make([]*qnode, len(its))
	for j, it := range its {
		out[j] = it.n
	}
	return out
}

// queryDecoder is a smithy.ShapeDeserializer over a query's key tree; it
// mirrors the SDK's awsQuery request serializer: members named by @xmlName
// or their member name, lists as Name.member.N (Name.N when flattened),
// maps as Name.entry.N.key / .value.
type queryDecoder struct {
	next   *qnode // what the next Read call consumes
	frames []qframe
}

type qkind int

const (
	qStruct qkind = iota
	qList
	qMap
	qUnion
)

type qframe struct {
	kind     qkind
	schema   *smithy.Schema
	members  []*smithy.Schema // struct: the members present, with their nodes
	nodes    []*qnode         // struct: member values; list: items; map: entries
	i        int
	key, val string // map entry element names
}

var _ smithy.ShapeDeserializer = (*queryDecoder)(nil)

func (d *queryDecoder) top() *qframe {
	if len(d.frames) == 0 {
		return nil
	}
	return &d.frames[len(d.frames)-1]
}

func (d *queryDecoder) pop() { d.frames = d.frames[:len(d.frames)-1] }

func (d *queryDecoder) take() *qnode {
	n := d.next
	d.next = nil
	if n == nil {
		n = &qnode{}
	}
	return n
}

func queryName(m *smithy.Schema) string {
	if xn, ok := smithy.SchemaTrait[*traits.XMLName](m); ok {
		return xn.Name
	}
	return m.MemberName()
}

// sortedMembers lists a schema's members in name order, for a stable
// decoding order.
func sortedMembers(s *smithy.Schema) []*smithy.Schema {
	if s == nil {
		return nil
	}
	var out []*smithy.Schema
	for _, name := range slices.Sorted(maps.Keys(s.Members())) {
		out = append(out, s.Members()[name])
	}
	return out
}

// ReadStruct implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadStruct(s *smithy.Schema) error {
	n := d.take()
	f := qframe{kind: qStruct, schema: s}
	for _, m := range sortedMembers(s) {
		if c := n.get(queryName(m)); c != nil {
			f.members = append(f.members, m)
			f.nodes = append(f.nodes, c)
		}
	}
	d.frames = append(d.frames, f)
	return nil
}

// ReadStructMember implements [smithy.ShapeDeserializer]. It returns the
// very member schemas of the struct's schema: generated code switches on
// their identity.
func (d *queryDecoder) ReadStructMember() (*smithy.Schema, error) {
	f := d.top()
	if f == nil || f.kind != qStruct {
		return nil, fmt.Errorf("ReadStructMember outside a struct")
	}
	if f.i < len(f.members) {
		m := f.members[f.i]
		d.next = f.nodes[f.i]
		f.i++
		return m, nil
	}
	d.pop()
	return nil, nil
}

// ReadList implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadList(s *smithy.Schema) error {
	base := d.take()
	if _, flat := smithy.SchemaTrait[*traits.XMLFlattened](s); !flat {
		name := "member"
		if s != nil {
			if lm := s.ListMember(); lm != nil {
				if xn, ok := smithy.SchemaTrait[*traits.XMLName](lm); ok {
					name = xn.Name
				}
			}
		}
		base = base.get(name)
	}
	// "Name=" with no items is how the SDK sends an empty list.
	d.frames = append(d.frames, qframe{kind: qList, schema: s, nodes: base.items()})
	return nil
}

// ReadListItem implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadListItem(*smithy.Schema) (bool, error) {
	f := d.top()
	if f == nil || f.kind != qList {
		return false, fmt.Errorf("ReadListItem outside a list")
	}
	if f.i < len(f.nodes) {
		d.next = f.nodes[f.i]
		f.i++
		return true, nil
	}
	d.pop()
	return false, nil
}

// ReadMap implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadMap(s *smithy.Schema) error {
	base := d.take()
	if _, flat := smithy.SchemaTrait[*traits.XMLFlattened](s); !flat {
		base = base.get("entry")
	}
	f := qframe{kind: qMap, schema: s, nodes: base.items(), key: "key", val: "value"}
	if s != nil {
		if xn, ok := smithy.SchemaTrait[*traits.XMLName](s.MapKey()); ok {
			f.key = xn.Name
		}
		if xn, ok := smithy.SchemaTrait[*traits.XMLName](s.MapValue()); ok {
			f.val = xn.Name
		}
	}
	d.frames = append(d.frames, f)
	return nil
}

// ReadMapKey implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadMapKey(*smithy.Schema) (string, bool, error) {
	f := d.top()
	if f == nil || f.kind != qMap {
		return "", false, fmt.Errorf("ReadMapKey outside a map")
	}
	if f.i < len(f.nodes) {
		e := f.nodes[f.i]
		f.i++
		d.next = e.get(f.val)
		if k := e.get(f.key); k != nil {
			return k.val, true, nil
		}
		return "", true, nil
	}
	d.pop()
	return "", false, nil
}

// ReadUnion implements [smithy.ShapeDeserializer]: the first call returns
// the member that is set, the call after it nil.
func (d *queryDecoder) ReadUnion(s *smithy.Schema) (*smithy.Schema, error) {
	if f := d.top(); f != nil && f.kind == qUnion && f.schema == s {
		d.pop()
		return nil, nil
	}
	n := d.take()
	for _, m := range sortedMembers(s) {
		if c := n.get(queryName(m)); c != nil {
			d.frames = append(d.frames, qframe{kind: qUnion, schema: s})
			d.next = c
			return m, nil
		}
	}
	return nil, nil
}

// ReadNil implements [smithy.ShapeDeserializer]; a query has no nulls.
func (d *queryDecoder) ReadNil(*smithy.Schema) (bool, error) { return false, nil }

// ReadString implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadString(_ *smithy.Schema, v *string) error {
	*v = d.take().val
	return nil
}

// ReadBool implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadBool(s *smithy.Schema, v *bool) error {
	text := d.take().val
	b, err := strconv.ParseBool(text)
	if err != nil {
		return fmt.Errorf("%s: %q is not a boolean", s.MemberName(), text)
	}
	*v = b
	return nil
}

func readInt[T int8 | int16 | int32 | int64](d *queryDecoder, s *smithy.Schema, v *T, bits int) error {
	text := d.take().val
	n, err := strconv.ParseInt(text, 10, bits)
	if err != nil {
		return fmt.Errorf("%s: %q is not an integer", s.MemberName(), text)
	}
	*v = T(n)
	return nil
}

// ReadInt8 implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadInt8(s *smithy.Schema, v *int8) error { return readInt(d, s, v, 8) }

// ReadInt16 implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadInt16(s *smithy.Schema, v *int16) error { return readInt(d, s, v, 16) }

// ReadInt32 implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadInt32(s *smithy.Schema, v *int32) error { return readInt(d, s, v, 32) }

// ReadInt64 implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadInt64(s *smithy.Schema, v *int64) error { return readInt(d, s, v, 64) }

func (d *queryDecoder) readFloat(s *smithy.Schema) (float64, error) {
	text := d.take().val
	switch text {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number", s.MemberName(), text)
	}
	return f, nil
}

// ReadFloat32 implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadFloat32(s *smithy.Schema, v *float32) error {
	f, err := d.readFloat(s)
	*v = float32(f)
	return err
}

// ReadFloat64 implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadFloat64(s *smithy.Schema, v *float64) error {
	f, err := d.readFloat(s)
	*v = f
	return err
}

// ReadBlob implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadBlob(s *smithy.Schema, v *[]byte) error {
	b, err := base64.StdEncoding.DecodeString(d.take().val)
	if err != nil {
		return fmt.Errorf("%s: %v", s.MemberName(), err)
	}
	*v = b
	return nil
}

// ReadTime implements [smithy.ShapeDeserializer], in the member's
// @timestampFormat (date-time unless it says otherwise).
func (d *queryDecoder) ReadTime(s *smithy.Schema, v *time.Time) error {
	text := d.take().val
	format := "date-time"
	if t, ok := smithy.SchemaTrait[*traits.TimestampFormat](s); ok {
		format = t.Format
	}
	var err error
	switch format {
	case "http-date":
		*v, err = smithytime.ParseHTTPDate(text)
	case "epoch-seconds":
		var f float64
		if f, err = strconv.ParseFloat(text, 64); err == nil {
			*v = smithytime.ParseEpochSeconds(f)
		}
	default:
		*v, err = smithytime.ParseDateTime(text)
	}
	if err != nil {
		return fmt.Errorf("%s: %q is not a %s timestamp", s.MemberName(), text, format)
	}
	return nil
}

// ReadBigInt implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadBigInt(s *smithy.Schema, v *big.Int) error {
	text := d.take().val
	if _, ok := v.SetString(text, 10); !ok {
		return fmt.Errorf("%s: %q is not an integer", s.MemberName(), text)
	}
	return nil
}

// ReadBigFloat implements [smithy.ShapeDeserializer].
func (d *queryDecoder) ReadBigFloat(s *smithy.Schema, v *big.Float) error {
	text := d.take().val
	if _, ok := v.SetString(text); !ok {
		return fmt.Errorf("%s: %q is not a number", s.MemberName(), text)
	}
	return nil
}

// ReadDocument implements [smithy.ShapeDeserializer]; the query protocols
// have no documents.
func (d *queryDecoder) ReadDocument(s *smithy.Schema, _ *document.Value) error {
	return fmt.Errorf("%s: documents are not supported by awsQuery", s.MemberName())
}

// xmlEncoder is a smithy.ShapeSerializer writing an awsQuery result; it
// mirrors the SDK's XML response deserializer: elements named by a
// member's own @xmlName or its member name, list items as <member> (or the
// list member's @xmlName; repeated list elements when flattened), maps as
// <entry><key/><value/></entry>. The root struct is written as root
// (<ActionResult>); an output without members writes nothing, as AWS does.
type xmlEncoder struct {
	xmlWriter
	root   string
	frames []xframe
	err    error
}

type xframe struct {
	kind     qkind
	name     string // element to close; "" for none
	item     string // list item or map entry element
	key, val string // map key and value elements
	inEntry  bool
}

var _ smithy.ShapeSerializer = (*xmlEncoder)(nil)

// Bytes implements [smithy.ShapeSerializer].
func (e *xmlEncoder) Bytes() []byte { return e.b.Bytes() }

func (e *xmlEncoder) top() *xframe {
	if len(e.frames) == 0 {
		return nil
	}
	return &e.frames[len(e.frames)-1]
}

func (e *xmlEncoder) pop() xframe {
	f := e.frames[len(e.frames)-1]
	e.frames = e.frames[:len(e.frames)-1]
	return f
}

// ename is a member's element name: only an @xmlName on the member itself
// counts, not one on its target.
func ename(s *smithy.Schema) string {
	if xn, ok := smithy.SchemaDirectTrait[*traits.XMLName](s); ok {
		return xn.Name
	}
	return s.MemberName()
}

// name is the element for a value: a list item or map value takes its name
// from the container.
func (e *xmlEncoder) name(s *smithy.Schema) string {
	if f := e.top(); f != nil {
		switch {
		case f.kind == qList:
			return f.item
		case f.kind == qMap && f.inEntry:
			return f.val
		}
	}
	return ename(s)
}

func (e *xmlEncoder) scalar(s *smithy.Schema, v string) { e.text(e.name(s), v) }

// WriteStruct implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteStruct(s *smithy.Schema) {
	name := ""
	switch {
	case len(e.frames) > 0:
		name = e.name(s)
	case s != nil:
		name = e.root
	}
	if name != "" {
		e.open(name)
	}
	e.frames = append(e.frames, xframe{kind: qStruct, name: name})
}

// CloseStruct implements [smithy.ShapeSerializer].
func (e *xmlEncoder) CloseStruct() {
	if f := e.pop(); f.name != "" {
		e.close(f.name)
	}
}

// WriteUnion implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteUnion(s, _ *smithy.Schema) {
	name := e.name(s)
	e.open(name)
	e.frames = append(e.frames, xframe{kind: qUnion, name: name})
}

// CloseUnion implements [smithy.ShapeSerializer].
func (e *xmlEncoder) CloseUnion() { e.close(e.pop().name) }

// WriteList implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteList(s *smithy.Schema) {
	name := e.name(s)
	if _, flat := smithy.SchemaTrait[*traits.XMLFlattened](s); flat {
		e.frames = append(e.frames, xframe{kind: qList, item: name})
		return
	}
	e.open(name)
	e.frames = append(e.frames, xframe{kind: qList, name: name, item: ename(s.ListMember())})
}

// CloseList implements [smithy.ShapeSerializer].
func (e *xmlEncoder) CloseList() {
	if f := e.pop(); f.name != "" {
		e.close(f.name)
	}
}

// WriteMap implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteMap(s *smithy.Schema) {
	f := xframe{kind: qMap, name: e.name(s), item: "entry", key: ename(s.MapKey()), val: ename(s.MapValue())}
	if _, flat := smithy.SchemaTrait[*traits.XMLFlattened](s); flat {
		f.item, f.name = f.name, ""
	} else {
		e.open(f.name)
	}
	e.frames = append(e.frames, f)
}

// WriteKey implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteKey(_ *smithy.Schema, k string) {
	f := e.top()
	if f == nil || f.kind != qMap {
		e.err = fmt.Errorf("map key %q outside a map", k)
		return
	}
	if f.inEntry {
		e.close(f.item)
	}
	e.open(f.item)
	e.text(f.key, k)
	f.inEntry = true
}

// CloseMap implements [smithy.ShapeSerializer].
func (e *xmlEncoder) CloseMap() {
	f := e.pop()
	if f.inEntry {
		e.close(f.item)
	}
	if f.name != "" {
		e.close(f.name)
	}
}

// WriteNil implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteNil(*smithy.Schema) {}

// WriteBool implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteBool(s *smithy.Schema, v bool) { e.scalar(s, strconv.FormatBool(v)) }

// WriteInt8 implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteInt8(s *smithy.Schema, v int8) {
	e.scalar(s, strconv.FormatInt(int64(v), 10))
}

// WriteInt16 implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteInt16(s *smithy.Schema, v int16) {
	e.scalar(s, strconv.FormatInt(int64(v), 10))
}

// WriteInt32 implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteInt32(s *smithy.Schema, v int32) {
	e.scalar(s, strconv.FormatInt(int64(v), 10))
}

// WriteInt64 implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteInt64(s *smithy.Schema, v int64) { e.scalar(s, strconv.FormatInt(v, 10)) }

// WriteFloat32 implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteFloat32(s *smithy.Schema, v float32) {
	e.scalar(s, formatFloat(float64(v), 32))
}

// WriteFloat64 implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteFloat64(s *smithy.Schema, v float64) { e.scalar(s, formatFloat(v, 64)) }

func formatFloat(v float64, bits int) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(v, 'g', -1, bits)
}

// WriteString implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteString(s *smithy.Schema, v string) { e.scalar(s, v) }

// WriteBlob implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteBlob(s *smithy.Schema, v []byte) {
	if v != nil {
		e.scalar(s, base64.StdEncoding.EncodeToString(v))
	}
}

// WriteTime implements [smithy.ShapeSerializer], in the member's
// @timestampFormat (date-time unless it says otherwise).
func (e *xmlEncoder) WriteTime(s *smithy.Schema, v time.Time) {
	format := "date-time"
	if t, ok := smithy.SchemaTrait[*traits.TimestampFormat](s); ok {
		format = t.Format
	}
	switch format {
	case "http-date":
		e.scalar(s, smithytime.FormatHTTPDate(v))
	case "epoch-seconds":
		e.scalar(s, strconv.FormatFloat(smithytime.FormatEpochSeconds(v), 'f', -1, 64))
	default:
		e.scalar(s, smithytime.FormatDateTime(v))
	}
}

// WriteBigInt implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteBigInt(s *smithy.Schema, v *big.Int) { e.scalar(s, v.String()) }

// WriteBigFloat implements [smithy.ShapeSerializer].
func (e *xmlEncoder) WriteBigFloat(s *smithy.Schema, v *big.Float) { e.scalar(s, v.Text('g', -1)) }

// WriteDocument implements [smithy.ShapeSerializer]; XML has no documents.
func (e *xmlEncoder) WriteDocument(s *smithy.Schema, _ document.Value) {
	e.err = fmt.Errorf("%s: documents are not supported by awsQuery", s.MemberName())
}
