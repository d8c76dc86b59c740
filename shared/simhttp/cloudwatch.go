package simhttp

// CloudWatch over the Smithy RPC v2 CBOR protocol, as aws-sdk-go-v2's
// CloudWatch client speaks it: POST /service/GraniteServiceVersion20100801/
// operation/<Op> with "smithy-protocol: rpc-v2-cbor" and a CBOR body, the
// answer a CBOR body too. Like awsQuery here (query.go), the SDK types
// drive a codec through their own Serialize and Deserialize methods: a
// smithy.ShapeDeserializer over a decoded CBOR value and a
// smithy.ShapeSerializer building one, on smithy-go's encoding/cbor. The
// SDK's own CBOR codec is internal to smithy-go; this one mirrors it:
// structures are maps keyed by member name, timestamps tag 1 around epoch
// seconds (a float with milliseconds), blobs byte strings, unions maps of
// one member.
//
// Errors are a CBOR map {"__type": shape ID, "message": ...}. CloudWatch is
// awsQuery-compatible, so an error also carries X-Amzn-Query-Error:
// "<awsQuery code>;Sender|Receiver", from which the SDK takes the code it
// reports: a client sees the same codes as from the in-process simulation.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/document"
	"github.com/aws/smithy-go/encoding/cbor"
	"github.com/aws/smithy-go/traits"

	"github.com/kaizen-sre/kaizen/shared/cloud"
)

const (
	svcCloudWatch = "monitoring" // CloudWatch's SigV4 signing name

	// rpcv2Prefix starts every RPC v2 request path.
	rpcv2Prefix = "/service/"
	// cwService is CloudWatch's Smithy service shape name, the path's
	// second segment.
	cwService = "GraniteServiceVersion20100801"
)

// CloudWatchAPI is what simhttp serves of CloudWatch: the alarm states
// the approval evidence reads and the metrics analysis reads.
type CloudWatchAPI interface {
	cloud.AlarmsAPI
	GetMetricData(ctx context.Context, params *cloudwatch.GetMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

// cborOp decodes an operation's input from its CBOR body, calls the
// simulation and returns the output to encode.
type cborOp func(ctx context.Context, body cbor.Value) (smithy.Serializable, error)

// cborOpOf adapts a client method to a cborOp, given its input's schema.
func cborOpOf[I any, PO smithy.Serializable, Opt any](call func(context.Context, *I, ...func(Opt)) (PO, error), schema *smithy.Schema) cborOp {
	mustMatch(reflect.TypeFor[I](), schema)
	return func(ctx context.Context, body cbor.Value) (smithy.Serializable, error) {
		in := new(I)
		if err := decodeInput(&cborDecoder{next: body, pending: true}, schema, in); err != nil {
			return nil, badRequest("SerializationException", "%v", err)
		}
		out, err := call(ctx, in)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// cloudWatchOps lists the CloudWatch operations served.
func cloudWatchOps(cw CloudWatchAPI) map[string]cborOp {
	return map[string]cborOp{
		"DescribeAlarms": cborOpOf(cw.DescribeAlarms, cwschemas.DescribeAlarmsInput),
		"GetMetricData":  cborOpOf(cw.GetMetricData, cwschemas.GetMetricDataInput),
	}
}

// cwErrorTypes maps CloudWatch's awsQuery error codes to the shape IDs of
// its modeled errors ("InvalidParameterValue" →
// "com.amazonaws.cloudwatch#InvalidParameterValueException"), read from the
// SDK's type registry.
var cwErrorTypes = func() map[string]string {
	out := map[string]string{}
	for id, e := range cloudwatch.TypeRegistry.Entries {
		if qe, ok := smithy.SchemaTrait[*traits.AWSQueryError](e.Schema); ok {
			out[qe.ErrorCode] = id
		}
	}
	return out
}()

// serveRPCv2 serves an RPC v2 CBOR request; CloudWatch is the only
// service served so.
func (s *server) serveRPCv2(w http.ResponseWriter, r *http.Request) {
	svcName, op, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, rpcv2Prefix), "/operation/")
	call := s.cbor[op]
	var err error
	switch {
	case r.Method != http.MethodPost:
		err = &wireError{status: http.StatusMethodNotAllowed, code: "UnknownOperationException", message: "RPC v2 requests are POSTs, got " + r.Method}
	case !strings.EqualFold(r.Header.Get("Smithy-Protocol"), "rpc-v2-cbor"):
		err = badRequest("SerializationException", "the smithy-protocol header must be rpc-v2-cbor, got %q", r.Header.Get("Smithy-Protocol"))
	case svcName != cwService || call == nil:
		err = &wireError{status: http.StatusNotFound, code: "UnknownOperationException", message: fmt.Sprintf("simhttp does not serve operation %q of service %q over RPC v2 CBOR", op, svcName)}
	}
	if err != nil {
		s.logCall(r.Context(), svcCloudWatch, op, err)
		writeCBORError(w, err)
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.logCall(r.Context(), svcCloudWatch, op, err)
		writeCBORError(w, err)
		return
	}
	out, err := call(r.Context(), body)
	s.logCall(r.Context(), svcCloudWatch, op, err)
	if err != nil {
		writeCBORError(w, err)
		return
	}
	enc := &cborEncoder{}
	out.Serialize(enc)
	if enc.err != nil {
		writeCBORError(w, enc.err)
		return
	}
	writeCBOR(w, http.StatusOK, enc.Bytes())
}

// readBody reads and decodes a request's CBOR body; an empty body is an
// empty input.
func readBody(r *http.Request) (cbor.Value, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, badRequest("SerializationException", "read the body: %v", err)
	}
	if len(b) == 0 {
		return cbor.Map{}, nil
	}
	v, err := cbor.Decode(b)
	if err != nil {
		return nil, badRequest("SerializationException", "the body is not CBOR: %v", err)
	}
	return v, nil
}

func writeCBOR(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("X-Amzn-RequestId", requestID())
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeCBORError writes an RPC v2 CBOR error with CloudWatch's awsQuery
// code alongside.
func writeCBORError(w http.ResponseWriter, err error) {
	we := toWire(err)
	typ := we.code
	if id, ok := cwErrorTypes[we.code]; ok {
		typ = id
	}
	fault := "Sender"
	if we.server() {
		fault = "Receiver"
	}
	w.Header().Set("X-Amzn-Query-Error", we.code+";"+fault)
	writeCBOR(w, we.status, cbor.Encode(cbor.Map{"__type": cbor.String(typ), "message": cbor.String(we.message)}))
}

// cborDecoder is a smithy.ShapeDeserializer over a decoded CBOR value.
// next is the value the next Read consumes, when pending.
type cborDecoder struct {
	next    cbor.Value
	pending bool
	frames  []*cframe
}

// cframe is an open structure, map, union or list: its entries not read
// yet.
type cframe struct {
	kind   string // "structure", "map", "union" or "list"
	schema *smithy.Schema
	m      cbor.Map
	keys   []string
	items  cbor.List
}

// take consumes the pending value.
func (d *cborDecoder) take() (cbor.Value, error) {
	if !d.pending {
		return nil, fmt.Errorf("no value to read")
	}
	d.pending = false
	v := d.next
	d.next = nil
	return v, nil
}

func (d *cborDecoder) give(v cbor.Value) { d.next, d.pending = v, true }

func (d *cborDecoder) top(kind string) (*cframe, error) {
	if len(d.frames) == 0 || d.frames[len(d.frames)-1].kind != kind {
		return nil, fmt.Errorf("no %s open", kind)
	}
	return d.frames[len(d.frames)-1], nil
}

func (d *cborDecoder) pop() { d.frames = d.frames[:len(d.frames)-1] }

func isNil(v cbor.Value) bool {
	switch v.(type) {
	case *cbor.Nil, *cbor.Undefined, nil:
		return true
	}
	return false
}

// open starts reading a map-shaped value (a structure, map or union).
func (d *cborDecoder) open(kind string, s *smithy.Schema) error {
	v, err := d.take()
	if err != nil {
		return err
	}
	f := &cframe{kind: kind, schema: s}
	switch m := v.(type) {
	case cbor.Map:
		f.m = m
		for k := range m {
			f.keys = append(f.keys, k)
		}
		slices.Sort(f.keys)
	case *cbor.Nil, *cbor.Undefined:
		// null reads as an empty structure
	default:
		return fmt.Errorf("%s: expected a CBOR map for a %s, got %T", name(s), kind, v)
	}
	d.frames = append(d.frames, f)
	return nil
}

// nextKey moves the frame's next non-null entry into next.
func (d *cborDecoder) nextKey(f *cframe) (string, bool) {
	for len(f.keys) > 0 {
		k := f.keys[0]
		f.keys = f.keys[1:]
		if v := f.m[k]; !isNil(v) {
			d.give(v)
			return k, true
		}
	}
	d.pop()
	return "", false
}

func name(s *smithy.Schema) string {
	if s == nil {
		return "value"
	}
	if n := s.MemberName(); n != "" {
		return n
	}
	return s.ID().Name
}

func (d *cborDecoder) ReadStruct(s *smithy.Schema) error { return d.open("structure", s) }

func (d *cborDecoder) ReadStructMember() (*smithy.Schema, error) {
	f, err := d.top("structure")
	if err != nil {
		return nil, err
	}
	for {
		k, ok := d.nextKey(f)
		if !ok {
			return nil, nil
		}
		if m := f.schema.Members()[k]; m != nil {
			return m, nil
		}
		d.pending, d.next = false, nil // a member the model does not know: skipped
	}
}

func (d *cborDecoder) ReadMap(s *smithy.Schema) error { return d.open("map", s) }

func (d *cborDecoder) ReadMapKey(*smithy.Schema) (string, bool, error) {
	f, err := d.top("map")
	if err != nil {
		return "", false, err
	}
	k, ok := d.nextKey(f)
	return k, ok, nil
}

// ReadUnion opens the union when its value is pending, and else (after
// its member was read) closes it.
func (d *cborDecoder) ReadUnion(s *smithy.Schema) (*smithy.Schema, error) {
	if d.pending {
		if err := d.open("union", s); err != nil {
			return nil, err
		}
	}
	f, err := d.top("union")
	if err != nil {
		return nil, err
	}
	for {
		k, ok := d.nextKey(f)
		if !ok {
			return nil, nil
		}
		if m := s.Members()[k]; m != nil {
			return m, nil
		}
		d.pending, d.next = false, nil
	}
}

func (d *cborDecoder) ReadList(s *smithy.Schema) error {
	v, err := d.take()
	if err != nil {
		return err
	}
	f := &cframe{kind: "list", schema: s}
	switch l := v.(type) {
	case cbor.List:
		f.items = l
	case *cbor.Nil, *cbor.Undefined:
	default:
		return fmt.Errorf("%s: expected a CBOR list, got %T", name(s), v)
	}
	d.frames = append(d.frames, f)
	return nil
}

func (d *cborDecoder) ReadListItem(*smithy.Schema) (bool, error) {
	f, err := d.top("list")
	if err != nil {
		return false, err
	}
	if len(f.items) == 0 {
		d.pop()
		return false, nil
	}
	d.give(f.items[0])
	f.items = f.items[1:]
	return true, nil
}

func (d *cborDecoder) ReadNil(*smithy.Schema) (bool, error) {
	if d.pending && isNil(d.next) {
		d.pending, d.next = false, nil
		return true, nil
	}
	return false, nil
}

func (d *cborDecoder) ReadString(s *smithy.Schema, v *string) error {
	x, err := d.take()
	if err != nil {
		return err
	}
	str, ok := x.(cbor.String)
	if !ok {
		return fmt.Errorf("%s: expected a CBOR text string, got %T", name(s), x)
	}
	*v = string(str)
	return nil
}

func (d *cborDecoder) ReadBool(s *smithy.Schema, v *bool) error {
	x, err := d.take()
	if err != nil {
		return err
	}
	b, ok := x.(cbor.Bool)
	if !ok {
		return fmt.Errorf("%s: expected a CBOR bool, got %T", name(s), x)
	}
	*v = bool(b)
	return nil
}

// cborNumber reads the pending value with a coercion of smithy-go's
// encoding/cbor, naming the member when it fails.
func cborNumber[T any](d *cborDecoder, s *smithy.Schema, v *T, as func(cbor.Value) (T, error)) error {
	x, err := d.take()
	if err != nil {
		return err
	}
	n, err := as(x)
	if err != nil {
		return fmt.Errorf("%s: %v", name(s), err)
	}
	*v = n
	return nil
}

func (d *cborDecoder) ReadInt8(s *smithy.Schema, v *int8) error {
	return cborNumber(d, s, v, cbor.AsInt8)
}

func (d *cborDecoder) ReadInt16(s *smithy.Schema, v *int16) error {
	return cborNumber(d, s, v, cbor.AsInt16)
}

func (d *cborDecoder) ReadInt32(s *smithy.Schema, v *int32) error {
	return cborNumber(d, s, v, cbor.AsInt32)
}

func (d *cborDecoder) ReadInt64(s *smithy.Schema, v *int64) error {
	return cborNumber(d, s, v, cbor.AsInt64)
}

func (d *cborDecoder) ReadFloat32(s *smithy.Schema, v *float32) error {
	return cborNumber(d, s, v, cbor.AsFloat32)
}

func (d *cborDecoder) ReadFloat64(s *smithy.Schema, v *float64) error {
	return cborNumber(d, s, v, cbor.AsFloat64)
}

// ReadTime reads tag 1 around epoch seconds, integral or fractional.
func (d *cborDecoder) ReadTime(s *smithy.Schema, v *time.Time) error {
	var t time.Time
	if err := cborNumber(d, s, &t, cbor.AsTime); err != nil {
		return err
	}
	*v = t.UTC()
	return nil
}

func (d *cborDecoder) ReadBlob(s *smithy.Schema, v *[]byte) error {
	x, err := d.take()
	if err != nil {
		return err
	}
	b, ok := x.(cbor.Slice)
	if !ok {
		return fmt.Errorf("%s: expected a CBOR byte string, got %T", name(s), x)
	}
	*v = slices.Clone([]byte(b))
	return nil
}

func (d *cborDecoder) ReadBigInt(s *smithy.Schema, _ *big.Int) error {
	return fmt.Errorf("%s: big integers are not served", name(s))
}

func (d *cborDecoder) ReadBigFloat(s *smithy.Schema, _ *big.Float) error {
	return fmt.Errorf("%s: big decimals are not served", name(s))
}

func (d *cborDecoder) ReadDocument(s *smithy.Schema, _ *document.Value) error {
	return fmt.Errorf("%s: documents are not served", name(s))
}

// cborEncoder is a smithy.ShapeSerializer building a CBOR value. Each open
// structure, map, union or list is a frame; a closed one becomes a value of
// its parent, under the key it was opened with.
type cborEncoder struct {
	root   cbor.Value
	frames []*eframe
	err    error
}

type eframe struct {
	m    cbor.Map  // a structure, map or union
	l    cbor.List // a list
	list bool
	// key is the next map entry's key, set by WriteKey (maps) or
	// WriteUnion (the variant); otherwise a member writes under its
	// member name.
	key    string
	hasKey bool
	// at is where the frame goes in its parent when closed.
	at string
}

// slot consumes the key the next value of the top frame goes under.
func (e *cborEncoder) slot(s *smithy.Schema) (string, bool) {
	if len(e.frames) == 0 {
		return "", false
	}
	f := e.frames[len(e.frames)-1]
	if f.list {
		return "", false
	}
	if f.hasKey {
		f.hasKey = false
		return f.key, true
	}
	if s == nil || s.MemberName() == "" {
		e.fail(fmt.Errorf("simhttp: a value written in a structure without a member name"))
		return "", false
	}
	return s.MemberName(), true
}

func (e *cborEncoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// put places a value at key (in a map-shaped top frame), at the end of the
// top list, or as the root.
func (e *cborEncoder) put(key string, v cbor.Value) {
	if len(e.frames) == 0 {
		e.root = v
		return
	}
	f := e.frames[len(e.frames)-1]
	if f.list {
		f.l = append(f.l, v)
		return
	}
	f.m[key] = v
}

func (e *cborEncoder) write(s *smithy.Schema, v cbor.Value) {
	k, _ := e.slot(s)
	e.put(k, v)
}

func (e *cborEncoder) push(s *smithy.Schema, list bool) *eframe {
	k, _ := e.slot(s)
	f := &eframe{list: list, at: k}
	if !list {
		f.m = cbor.Map{}
	}
	e.frames = append(e.frames, f)
	return f
}

func (e *cborEncoder) close(list bool) {
	if len(e.frames) == 0 || e.frames[len(e.frames)-1].list != list {
		e.fail(fmt.Errorf("simhttp: unbalanced close in the CBOR encoder"))
		return
	}
	f := e.frames[len(e.frames)-1]
	e.frames = e.frames[:len(e.frames)-1]
	var v cbor.Value = f.m
	if list {
		v = f.l
		if v.(cbor.List) == nil {
			v = cbor.List{}
		}
	}
	e.put(f.at, v)
}

// Bytes is the encoded value.
func (e *cborEncoder) Bytes() []byte {
	if e.root == nil {
		return nil
	}
	return cbor.Encode(e.root)
}

func (e *cborEncoder) WriteStruct(s *smithy.Schema) { e.push(s, false) }
func (e *cborEncoder) CloseStruct()                 { e.close(false) }
func (e *cborEncoder) WriteMap(s *smithy.Schema)    { e.push(s, false) }
func (e *cborEncoder) CloseMap()                    { e.close(false) }
func (e *cborEncoder) WriteList(s *smithy.Schema)   { e.push(s, true) }
func (e *cborEncoder) CloseList()                   { e.close(true) }

func (e *cborEncoder) WriteKey(_ *smithy.Schema, key string) {
	if len(e.frames) == 0 || e.frames[len(e.frames)-1].list {
		e.fail(fmt.Errorf("simhttp: a map key outside a map"))
		return
	}
	f := e.frames[len(e.frames)-1]
	f.key, f.hasKey = key, true
}

// WriteUnion opens a one-entry map whose key is the variant's name;
// CloseUnion closes it.
func (e *cborEncoder) WriteUnion(s, variant *smithy.Schema) {
	f := e.push(s, false)
	f.key, f.hasKey = variant.MemberName(), true
}

func (e *cborEncoder) CloseUnion() { e.close(false) }

func (e *cborEncoder) WriteBool(s *smithy.Schema, v bool) { e.write(s, cbor.Bool(v)) }

func cborInt(v int64) cbor.Value {
	if v >= 0 {
		return cbor.Uint(v)
	}
	return cbor.NegInt(uint64(-(v + 1)) + 1) // NegInt(n) is -n; no overflow at MinInt64
}

func (e *cborEncoder) WriteInt8(s *smithy.Schema, v int8)   { e.write(s, cborInt(int64(v))) }
func (e *cborEncoder) WriteInt16(s *smithy.Schema, v int16) { e.write(s, cborInt(int64(v))) }
func (e *cborEncoder) WriteInt32(s *smithy.Schema, v int32) { e.write(s, cborInt(int64(v))) }
func (e *cborEncoder) WriteInt64(s *smithy.Schema, v int64) { e.write(s, cborInt(v)) }
func (e *cborEncoder) WriteFloat32(s *smithy.Schema, v float32) {
	e.write(s, cbor.Float32(v))
}

func (e *cborEncoder) WriteFloat64(s *smithy.Schema, v float64) {
	e.write(s, cbor.Float64(v))
}
func (e *cborEncoder) WriteString(s *smithy.Schema, v string) { e.write(s, cbor.String(v)) }

func (e *cborEncoder) WriteBlob(s *smithy.Schema, v []byte) {
	if v != nil {
		e.write(s, cbor.Slice(v))
	}
}

// WriteTime writes tag 1 around epoch seconds with milliseconds, as
// rpcv2Cbor does.
func (e *cborEncoder) WriteTime(s *smithy.Schema, v time.Time) {
	e.write(s, &cbor.Tag{ID: 1, Value: cbor.Float64(float64(v.UnixMilli()) / 1e3)})
}

func (e *cborEncoder) WriteNil(s *smithy.Schema) { e.write(s, &cbor.Nil{}) }

func (e *cborEncoder) WriteBigInt(s *smithy.Schema, v *big.Int) {
	if !v.IsInt64() {
		e.fail(fmt.Errorf("simhttp: %s: a big integer beyond int64", name(s)))
		return
	}
	e.write(s, cborInt(v.Int64()))
}

func (e *cborEncoder) WriteBigFloat(s *smithy.Schema, v *big.Float) {
	f, _ := v.Float64()
	if math.IsInf(f, 0) {
		e.fail(fmt.Errorf("simhttp: %s: a big decimal beyond float64", name(s)))
		return
	}
	e.write(s, cbor.Float64(f))
}

func (e *cborEncoder) WriteDocument(s *smithy.Schema, _ document.Value) {
	e.fail(fmt.Errorf("simhttp: %s: documents are not served", name(s)))
}

// alarm serves POST /_sim/alarm: sets a CloudWatch alarm's state (creating
// it, a metric alarm unless composite), as CloudWatch's evaluation would.
func (s *server) alarm(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name      string `json:"name"`
		State     string `json:"state"`
		Reason    string `json:"reason"`
		Composite bool   `json:"composite"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		adminError(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	switch {
	case in.Name == "" || len(in.Name) > 255:
		adminError(w, http.StatusBadRequest, "name must hold 1 to 255 characters, got %d", len(in.Name))
		return
	case !slices.Contains(cwtypes.StateValue("").Values(), cwtypes.StateValue(in.State)):
		adminError(w, http.StatusBadRequest, "state must be one of %v, got %q", cwtypes.StateValue("").Values(), in.State)
		return
	}
	s.cloud.SetAlarm(in.Name, in.State, in.Reason, in.Composite)
	writeJSON(w, http.StatusOK, map[string]string{"name": in.Name, "state": in.State})
}
