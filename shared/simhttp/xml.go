package simhttp

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"time"

	smithytime "github.com/aws/smithy-go/time"
)

// xmlWriter writes XML elements one by one. The responses are small and
// their shape is fixed by the protocol, so this is simpler than building
// trees for encoding/xml.
type xmlWriter struct{ b bytes.Buffer }

func (x *xmlWriter) open(name string) {
	x.b.WriteByte('<')
	x.b.WriteString(name)
	x.b.WriteByte('>')
}

func (x *xmlWriter) openNS(name, ns string) {
	x.b.WriteString("<" + name + ` xmlns="`)
	_ = xml.EscapeText(&x.b, []byte(ns))
	x.b.WriteString(`">`)
}

func (x *xmlWriter) close(name string) {
	x.b.WriteString("</")
	x.b.WriteString(name)
	x.b.WriteByte('>')
}

// text writes <name>v</name>.
func (x *xmlWriter) text(name, v string) {
	x.open(name)
	_ = xml.EscapeText(&x.b, []byte(v))
	x.close(name)
}

// elem writes <name>, what body writes, </name>.
func (x *xmlWriter) elem(name string, body func()) {
	x.open(name)
	body()
	x.close(name)
}

// The optional writers below skip nil values, as AWS omits unset members.

func (x *xmlWriter) str(name string, v *string) {
	if v != nil {
		x.text(name, *v)
	}
}

func (x *xmlWriter) boolean(name string, v *bool) {
	if v != nil {
		x.text(name, strconv.FormatBool(*v))
	}
}

func (x *xmlWriter) int32(name string, v *int32) {
	if v != nil {
		x.text(name, strconv.FormatInt(int64(*v), 10))
	}
}

func (x *xmlWriter) int64(name string, v *int64) {
	if v != nil {
		x.text(name, strconv.FormatInt(*v, 10))
	}
}

func (x *xmlWriter) time(name string, v *time.Time) {
	if v != nil {
		x.text(name, smithytime.FormatDateTime(*v))
	}
}

// enum writes a string-typed enum unless it is empty (unset).
func enum[E ~string](x *xmlWriter, name string, v E) {
	if v != "" {
		x.text(name, string(v))
	}
}

func writeXML(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}
