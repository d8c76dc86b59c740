// Package alrelease finds the newest Amazon Linux 2023 release version, for
// alas.Poller.ReleaseVersion.
//
// # Why a golden-image build needs it
//
// Amazon Linux 2023 pins its package repositories to a release: an
// instance launched from an AMI of release 2023.6.20241111 sees exactly the
// packages of that release (the repository URLs carry the version, through
// dnf's $releasever), so `dnf upgrade` or `dnf upgrade --advisory=ALAS2023-...`
// in a Packer build from that base AMI finds nothing newer, including the
// fixed packages the advisory is about. Amazon Linux 1 and 2 repositories are
// not versioned this way; a plain update sees everything. To apply an AL2023
// advisory, the build must move to the release that has the fix:
// `dnf upgrade --releasever=2023.6.20241121` (or use a base AMI of that
// release). The rebuild passes the version to the build as
// AL2023_RELEASE_VERSION (see package rebuild).
//
// The newest release is the one of the newest AL2023 AMI, which AWS
// publishes as an SSM public parameter. Latest reads it (GetParameter, the
// AMI id) and the AMI's name (DescribeImages), where the release is spelt
// out: al2023-ami-2023.6.20241121.0-kernel-6.1-x86_64 is release
// 2023.6.20241121, its last number being the AMI's build of that release.
package alrelease

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// DefaultParameter is the SSM public parameter with the id of the newest
// Amazon Linux 2023 AMI (standard kernel, x86_64). The release version is
// the same for every architecture and kernel flavour, so arm64 fleets need
// no other parameter.
const DefaultParameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"

// SSMAPI is what Latest calls on Systems Manager.
type SSMAPI interface {
	GetParameter(ctx context.Context, params *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// ImagesAPI is what Latest calls on EC2. cloud.EC2API includes it.
type ImagesAPI interface {
	DescribeImages(ctx context.Context, params *ec2.DescribeImagesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
}

var (
	_ SSMAPI    = (*ssm.Client)(nil)
	_ ImagesAPI = (*ec2.Client)(nil)
)

// Latest looks up the newest Amazon Linux 2023 release. SSM and EC2 are
// required.
type Latest struct {
	SSM       SSMAPI
	EC2       ImagesAPI
	Parameter string // default DefaultParameter
}

// ReleaseVersion returns the release of the AMI named by the parameter, for
// example "2023.6.20241121". It fits alas.Poller.ReleaseVersion.
func (l *Latest) ReleaseVersion(ctx context.Context) (string, error) {
	if l.SSM == nil || l.EC2 == nil {
		return "", errors.New("alrelease: Latest needs SSM and EC2 clients")
	}
	param := l.Parameter
	if param == "" {
		param = DefaultParameter
	}
	out, err := l.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param)})
	if err != nil {
		return "", fmt.Errorf("alrelease: read SSM parameter %s: %w", param, err)
	}
	if out == nil || out.Parameter == nil || out.Parameter.Value == nil {
		return "", fmt.Errorf("alrelease: SSM parameter %s has no value", param)
	}
	ami := strings.TrimSpace(*out.Parameter.Value)
	if !amiID.MatchString(ami) {
		return "", fmt.Errorf("alrelease: SSM parameter %s holds %q, not an AMI id", param, clip(ami))
	}
	imgs, err := l.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
	if err != nil {
		return "", fmt.Errorf("alrelease: describe %s (from %s): %w", ami, param, err)
	}
	var name string
	found := 0
	for _, img := range imgs.Images {
		if aws.ToString(img.ImageId) == ami {
			found++
			name = aws.ToString(img.Name)
		}
	}
	switch {
	case found == 0:
		return "", fmt.Errorf("alrelease: %s (from %s) not found by DescribeImages (%d other images returned)", ami, param, len(imgs.Images))
	case found > 1:
		return "", fmt.Errorf("alrelease: DescribeImages returned %s %d times", ami, found)
	}
	v, err := ParseImageName(name)
	if err != nil {
		return "", fmt.Errorf("alrelease: %s (from %s): %w", ami, param, err)
	}
	return v, nil
}

var (
	amiID = regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`)
	// release: 2023.<minor>.<yyyymmdd>, then .<build> in AMI names.
	release = regexp.MustCompile(`^(2023\.[0-9]{1,3}\.([0-9]{8}))\.[0-9]{1,3}$`)
)

// ParseImageName returns the release version in the name of an Amazon
// Linux 2023 AMI: "al2023-ami-2023.6.20241121.0-kernel-6.1-x86_64" and
// "al2023-ami-minimal-2023.6.20241121.0-kernel-6.1-arm64" give
// "2023.6.20241121". Anything else is an error that names what was
// unexpected.
func ParseImageName(name string) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("AMI name %q: %s", clip(name), fmt.Sprintf(format, args...))
	}
	if name == "" {
		return bad("empty")
	}
	rest, ok := strings.CutPrefix(name, "al2023-ami-")
	if !ok {
		return bad(`does not start with "al2023-ami-": not an Amazon Linux 2023 AMI`)
	}
	rest = strings.TrimPrefix(rest, "minimal-")
	ver, rest, ok := strings.Cut(rest, "-")
	if !ok || !strings.HasPrefix(rest, "kernel-") {
		return bad(`want "<release>.<build>-kernel-..." after "al2023-ami-"`)
	}
	m := release.FindStringSubmatch(ver)
	if m == nil {
		return bad("%q is not a release like 2023.6.20241121.0", clip(ver))
	}
	if _, err := time.Parse("20060102", m[2]); err != nil {
		return bad("%q in the release %q is not a date", m[2], ver)
	}
	return m[1], nil
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
