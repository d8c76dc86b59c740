package simhttp

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"

	asschemas "github.com/aws/aws-sdk-go-v2/service/autoscaling/schemas"
	elbschemas "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/schemas"
	snsschemas "github.com/aws/aws-sdk-go-v2/service/sns/schemas"
	"github.com/aws/smithy-go"

	"github.com/kaizen-sre/kaizen/shared/cloud"
)

// queryService is one awsQuery service: its operations by Action and the
// XML namespace of its responses.
type queryService struct {
	xmlns string
	ops   map[string]queryOp
}

// queryOp decodes an operation's input, calls the simulation and returns
// the output to encode.
type queryOp func(ctx context.Context, d *queryDecoder) (smithy.Serializable, error)

// opOf adapts a client method with the SDK's signature to a queryOp, given
// its input's schema (the one the SDK's operation serializes with). The SDK
// types encode and decode themselves against the schemas they were
// generated from, so no operation needs code of its own here.
func opOf[I any, PO smithy.Serializable, Opt any](call func(context.Context, *I, ...func(Opt)) (PO, error), schema *smithy.Schema) queryOp {
	mustMatch(reflect.TypeFor[I](), schema)
	return func(ctx context.Context, d *queryDecoder) (smithy.Serializable, error) {
		in := new(I)
		if err := decodeInput(d, schema, in); err != nil {
			return nil, badRequest("MalformedQueryString", "%v", err)
		}
		out, err := call(ctx, in)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// queryServices lists the awsQuery operations served, by service.
func queryServices(as cloud.AutoScalingAPI, elb cloud.ELBv2API, sns cloud.SNSAPI) map[string]*queryService {
	return map[string]*queryService{
		svcAutoScaling: {xmlns: "http://autoscaling.amazonaws.com/doc/2011-01-01/", ops: map[string]queryOp{
			"DescribeAutoScalingGroups":     opOf(as.DescribeAutoScalingGroups, asschemas.AutoScalingGroupNamesType),
			"UpdateAutoScalingGroup":        opOf(as.UpdateAutoScalingGroup, asschemas.UpdateAutoScalingGroupType),
			"SuspendProcesses":              opOf(as.SuspendProcesses, asschemas.ScalingProcessQuery),
			"ResumeProcesses":               opOf(as.ResumeProcesses, asschemas.ScalingProcessQuery),
			"DescribePolicies":              opOf(as.DescribePolicies, asschemas.DescribePoliciesType),
			"PutScalingPolicy":              opOf(as.PutScalingPolicy, asschemas.PutScalingPolicyType),
			"DeletePolicy":                  opOf(as.DeletePolicy, asschemas.DeletePolicyType),
			"DescribeScheduledActions":      opOf(as.DescribeScheduledActions, asschemas.DescribeScheduledActionsType),
			"PutScheduledUpdateGroupAction": opOf(as.PutScheduledUpdateGroupAction, asschemas.PutScheduledUpdateGroupActionType),
			"DeleteScheduledAction":         opOf(as.DeleteScheduledAction, asschemas.DeleteScheduledActionType),
		}},
		svcELB: {xmlns: "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/", ops: map[string]queryOp{
			"DescribeListeners":    opOf(elb.DescribeListeners, elbschemas.DescribeListenersInput),
			"ModifyListener":       opOf(elb.ModifyListener, elbschemas.ModifyListenerInput),
			"DescribeRules":        opOf(elb.DescribeRules, elbschemas.DescribeRulesInput),
			"ModifyRule":           opOf(elb.ModifyRule, elbschemas.ModifyRuleInput),
			"DescribeTargetHealth": opOf(elb.DescribeTargetHealth, elbschemas.DescribeTargetHealthInput),
		}},
		svcSNS: {xmlns: "http://sns.amazonaws.com/doc/2010-03-31/", ops: map[string]queryOp{
			"Publish": opOf(sns.Publish, snsschemas.PublishInput),
		}},
	}
}

// decodeInput decodes an operation's input. The SDK generates Deserialize
// only for shapes that some response carries, so many inputs (ELBv2's,
// SNS's) lack it, while every shape nested in them has it. Such an input's
// own members are read here, by schema, into the Go fields of the same name
// (see mustMatch); nested shapes decode themselves.
func decodeInput(d smithy.ShapeDeserializer, schema *smithy.Schema, in any) error {
	if ds, ok := in.(smithy.Deserializable); ok {
		return ds.Deserialize(d)
	}
	v := reflect.ValueOf(in).Elem()
	return smithy.ReadStruct(d, schema, func(m *smithy.Schema) error {
		return readValue(d, m, v.FieldByName(fieldName(m)))
	})
}

// fieldName is the Go field the SDK generates for a member.
func fieldName(m *smithy.Schema) string {
	n := m.MemberName()
	return strings.ToUpper(n[:1]) + n[1:]
}

// mustMatch panics, when the handler is built, if an input type lacks a
// field for a member of its schema: decodeInput would drop that member.
func mustMatch(t reflect.Type, schema *smithy.Schema) {
	if reflect.PointerTo(t).Implements(reflect.TypeFor[smithy.Deserializable]()) {
		return
	}
	for _, m := range schema.Members() {
		if _, ok := t.FieldByName(fieldName(m)); !ok {
			panic(fmt.Sprintf("simhttp: %s has no field for member %s of %s", t, m.MemberName(), schema.ID().Name))
		}
	}
}

var (
	timeType  = reflect.TypeFor[time.Time]()
	bytesType = reflect.TypeFor[[]byte]()
)

// readValue reads one member's value into v, through d.
func readValue(d smithy.ShapeDeserializer, m *smithy.Schema, v reflect.Value) error {
	if ds, ok := v.Addr().Interface().(smithy.Deserializable); ok {
		return ds.Deserialize(d)
	}
	switch {
	case v.Type() == timeType:
		return d.ReadTime(m, v.Addr().Interface().(*time.Time))
	case v.Type() == bytesType:
		return d.ReadBlob(m, v.Addr().Interface().(*[]byte))
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := readValue(d, m, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		return smithy.ReadList(d, m, func() error {
			e := reflect.New(v.Type().Elem()).Elem()
			if err := readValue(d, m.ListMember(), e); err != nil {
				return err
			}
			v.Set(reflect.Append(v, e))
			return nil
		})
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		return smithy.ReadMap(d, m, func(k string) error {
			e := reflect.New(v.Type().Elem()).Elem()
			if err := readValue(d, m.MapValue(), e); err != nil {
				return err
			}
			v.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
			return nil
		})
	case reflect.String: // strings and string enums
		var s string
		err := d.ReadString(m, &s)
		v.SetString(s)
		return err
	case reflect.Bool:
		var b bool
		err := d.ReadBool(m, &b)
		v.SetBool(b)
		return err
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var n int64
		err := d.ReadInt64(m, &n)
		if err == nil && v.OverflowInt(n) {
			err = fmt.Errorf("%s: %d is out of range", m.MemberName(), n)
		}
		v.SetInt(n)
		return err
	case reflect.Float32, reflect.Float64:
		var f float64
		err := d.ReadFloat64(m, &f)
		v.SetFloat(f)
		return err
	}
	return fmt.Errorf("%s: cannot decode into %s", m.MemberName(), v.Type())
}

// serveQuery serves an awsQuery request: a form with Action and Version,
// answered with <ActionResponse><ActionResult>...</ActionResult>
// <ResponseMetadata>...</ResponseMetadata></ActionResponse>.
func (s *server) serveQuery(w http.ResponseWriter, r *http.Request, svc string, qs *queryService) {
	id := requestID()
	if err := r.ParseForm(); err != nil {
		writeQueryError(w, id, qs.xmlns, badRequest("MalformedQueryString", "%v", err))
		return
	}
	action := r.Form.Get("Action")
	op := qs.ops[action]
	if op == nil {
		err := badRequest("InvalidAction", "Could not find operation %s for version %s", action, r.Form.Get("Version"))
		if action == "" {
			err = badRequest("MissingAction", "The request must contain the parameter Action")
		}
		s.logCall(r.Context(), svc, action, err)
		writeQueryError(w, id, qs.xmlns, err)
		return
	}
	out, err := op(r.Context(), &queryDecoder{next: parseQuery(r.Form)})
	s.logCall(r.Context(), svc, action, err)
	if err != nil {
		writeQueryError(w, id, qs.xmlns, err)
		return
	}
	body, err := queryResponse(action, qs.xmlns, id, out)
	if err != nil {
		writeQueryError(w, id, qs.xmlns, err)
		return
	}
	writeXML(w, http.StatusOK, body)
}

// queryResponse renders an operation's output as awsQuery's response body.
func queryResponse(action, xmlns, id string, out smithy.Serializable) ([]byte, error) {
	enc := &xmlEncoder{root: action + "Result"}
	out.Serialize(enc)
	if enc.err != nil {
		return nil, enc.err
	}
	var x xmlWriter
	x.openNS(action+"Response", xmlns)
	x.b.Write(enc.Bytes())
	x.elem("ResponseMetadata", func() { x.text("RequestId", id) })
	x.close(action + "Response")
	return x.b.Bytes(), nil
}

// writeQueryError writes an awsQuery error:
// <ErrorResponse><Error><Type>Sender</Type><Code>..</Code><Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>.
func writeQueryError(w http.ResponseWriter, id, xmlns string, err error) {
	we := toWire(err)
	var x xmlWriter
	if xmlns != "" {
		x.openNS("ErrorResponse", xmlns)
	} else {
		x.open("ErrorResponse")
	}
	x.elem("Error", func() {
		typ := "Sender"
		if we.server() {
			typ = "Receiver"
		}
		x.text("Type", typ)
		x.text("Code", we.code)
		x.text("Message", we.message)
	})
	x.text("RequestId", id)
	x.close("ErrorResponse")
	writeXML(w, we.status, x.b.Bytes())
}
