package imageprep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// Baseline is what every later image of an app must carry at least: the
// advisories earlier builds applied that their base image did not already
// have, and the newest AL2023 release an earlier build upgraded to. It is
// kept as JSON in an SSM parameter (or a file) and read and written by this
// step, so that a build started for a secret change or with only the newest
// advisories still applies every earlier fix.
type Baseline struct {
	Advisories     []string `json:"advisories"`
	ReleaseVersion string   `json:"releaseVersion,omitempty"`
}

// SSMAPI is the part of the SSM client the baseline needs.
type SSMAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, optFns ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

var _ SSMAPI = (*ssm.Client)(nil)

// maxParameter is the size of a standard-tier SSM parameter value.
const maxParameter = 4096

// ssmPrefix marks a baseline location that is an SSM parameter name.
const ssmPrefix = "ssm:"

// ValidLocation checks a --advisories-from or --advisories-to value: a
// file path, or ssm:/name/of/parameter.
func ValidLocation(loc string) error {
	if name, ok := strings.CutPrefix(loc, ssmPrefix); ok {
		if !strings.HasPrefix(name, "/") || len(name) > 1011 || strings.ContainsAny(name, " \t\n\"'") {
			return fmt.Errorf("%q: an SSM parameter name must start with / (ssm:/kaizen/<app>/image-baseline)", loc)
		}
		return nil
	}
	if loc == "" {
		return errors.New("empty location")
	}
	return nil
}

// ParseBaseline reads a baseline in any of the forms it is kept in: the
// JSON object Baseline, an image manifest (/etc/kaizen/image.json, whose
// "baseline" field is one), or a plain list of advisory ids separated by
// commas, spaces or new lines (lines starting with # are comments).
func ParseBaseline(b []byte) (Baseline, error) {
	s := strings.TrimSpace(string(b))
	var out Baseline
	if strings.HasPrefix(s, "{") {
		var doc struct {
			Baseline
			Nested *Baseline `json:"baseline"`
		}
		if err := json.Unmarshal([]byte(s), &doc); err != nil {
			return out, fmt.Errorf("baseline is not valid JSON: %w", err)
		}
		out = doc.Baseline
		if doc.Nested != nil {
			out = *doc.Nested
		}
		ids, err := ParseAdvisories(strings.Join(out.Advisories, ","))
		if err != nil {
			return Baseline{}, fmt.Errorf("baseline: %w", err)
		}
		out.Advisories = ids
		if out.ReleaseVersion != "" && !ValidRelease(out.ReleaseVersion) {
			return Baseline{}, fmt.Errorf("baseline: releaseVersion %q is not an AL2023 release version", out.ReleaseVersion)
		}
		return out, nil
	}
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	ids, err := ParseAdvisories(strings.Join(lines, ","))
	if err != nil {
		return Baseline{}, fmt.Errorf("baseline: %w", err)
	}
	out.Advisories = ids
	return out, nil
}

// readBaseline reads the baseline at loc. A missing SSM parameter is the
// empty baseline (the app's first build); a missing file is an error, since
// a file is named on purpose.
func readBaseline(ctx context.Context, loc string, client func(context.Context) (SSMAPI, error)) (Baseline, error) {
	if name, ok := strings.CutPrefix(loc, ssmPrefix); ok {
		c, err := client(ctx)
		if err != nil {
			return Baseline{}, err
		}
		out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
		var nf *ssmtypes.ParameterNotFound
		if errors.As(err, &nf) {
			return Baseline{}, nil
		}
		if err != nil {
			return Baseline{}, fmt.Errorf("read the baseline %s: %w", loc, err)
		}
		if out.Parameter == nil || out.Parameter.Value == nil {
			return Baseline{}, fmt.Errorf("read the baseline %s: no value", loc)
		}
		b, err := ParseBaseline([]byte(*out.Parameter.Value))
		if err != nil {
			return Baseline{}, fmt.Errorf("%s: %w", loc, err)
		}
		return b, nil
	}
	f, err := os.Open(loc)
	if err != nil {
		return Baseline{}, fmt.Errorf("read the baseline: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return Baseline{}, fmt.Errorf("read the baseline %s: %w", loc, err)
	}
	b, err := ParseBaseline(data)
	if err != nil {
		return Baseline{}, fmt.Errorf("%s: %w", loc, err)
	}
	return b, nil
}

// writeBaseline saves b at loc.
func writeBaseline(ctx context.Context, loc string, b Baseline, client func(context.Context) (SSMAPI, error)) error {
	if b.Advisories == nil {
		b.Advisories = []string{}
	}
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	if name, ok := strings.CutPrefix(loc, ssmPrefix); ok {
		if len(data) > maxParameter {
			return fmt.Errorf("write the baseline %s: %d advisories need %d bytes, over the %d of a standard SSM parameter",
				loc, len(b.Advisories), len(data), maxParameter)
		}
		c, err := client(ctx)
		if err != nil {
			return err
		}
		_, err = c.PutParameter(ctx, &ssm.PutParameterInput{
			Name: aws.String(name), Value: aws.String(string(data)), Type: ssmtypes.ParameterTypeString,
			Overwrite: aws.Bool(true), Description: aws.String("kaizen image prepare: advisories and AL2023 release every image of the app carries"),
		})
		if err != nil {
			return fmt.Errorf("write the baseline %s: %w", loc, err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(loc), 0o755); err != nil {
		return fmt.Errorf("write the baseline: %w", err)
	}
	if err := os.WriteFile(loc, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the baseline: %w", err)
	}
	return nil
}
