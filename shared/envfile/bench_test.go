package envfile

import (
	"fmt"
	"strings"
	"testing"
)

// secret64KiB returns a JSON object of exactly MaxInputBytes bytes: 500 keys
// with short values and one big value that holds single quotes, double
// quotes, dollars and backslashes to escape.
func secret64KiB(tb testing.TB) []byte {
	var b strings.Builder
	b.WriteString("{")
	for i := range 500 {
		fmt.Fprintf(&b, `"KEY_%04d":"value-%04d-it's-$HOME",`, i, i)
	}
	b.WriteString(`"BIG":"`)
	const tail = `"}`
	chunk := `abcdefghijklmnopqrstuvwxyz0123456789'$\"\\` // 44 bytes of JSON
	for b.Len()+len(chunk)+len(tail) <= MaxInputBytes {
		b.WriteString(chunk)
	}
	b.WriteString(strings.Repeat("x", MaxInputBytes-b.Len()-len(tail)))
	b.WriteString(tail)
	in := []byte(b.String())
	if len(in) != MaxInputBytes {
		tb.Fatalf("secret is %d bytes", len(in))
	}
	if _, err := Render(in, Options{}); err != nil {
		tb.Fatal(err)
	}
	return in
}

func BenchmarkRender64KiB(b *testing.B) {
	in := secret64KiB(b)
	for _, format := range []string{FormatShell, FormatSystemd} {
		b.Run(format, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Render(in, Options{Format: format, SecretID: "prod/app"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
