package simhttp

import (
	"context"
	"net/http"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kaizen-sre/kaizen/shared/cloud"
)

// The EC2 SDK module has no schemas to drive a generic codec, so its
// operations are mapped by hand, after the SDK's serializers.go (request
// keys) and deserializers.go (response elements). Only what kaizen sends and
// the simulation answers is mapped; other parameters are ignored.

const ec2NS = "http://ec2.amazonaws.com/doc/2016-11-15/"

// ec2Op decodes an operation's parameters, calls EC2 and writes the
// response's members.
type ec2Op func(ctx context.Context, api cloud.EC2API, p *ec2Params, x *xmlWriter) error

var ec2Ops = map[string]ec2Op{
	"DescribeImages":                 describeImages,
	"DescribeLaunchTemplateVersions": describeLaunchTemplateVersions,
	"CreateLaunchTemplateVersion":    createLaunchTemplateVersion,
	"DeregisterImage":                deregisterImage,
	"DeleteSnapshot":                 deleteSnapshot,
}

// serveEC2 serves an ec2Query request, answered with
// <ActionResponse xmlns=...><requestId>..</requestId>...</ActionResponse>.
func (s *server) serveEC2(w http.ResponseWriter, r *http.Request) {
	id := requestID()
	if err := r.ParseForm(); err != nil {
		writeEC2Error(w, id, badRequest("InvalidParameterValue", "%v", err))
		return
	}
	action := r.Form.Get("Action")
	op := ec2Ops[action]
	if op == nil {
		err := badRequest("InvalidAction", "The action %s is not valid for this web service.", action)
		if action == "" {
			err = badRequest("MissingAction", "The request must contain the parameter Action")
		}
		s.logCall(r.Context(), svcEC2, action, err)
		writeEC2Error(w, id, err)
		return
	}
	var x xmlWriter
	x.openNS(action+"Response", ec2NS)
	x.text("requestId", id)
	err := op(r.Context(), s.ec2, &ec2Params{n: parseQuery(r.Form)}, &x)
	s.logCall(r.Context(), svcEC2, action, err)
	if err != nil {
		writeEC2Error(w, id, err)
		return
	}
	x.close(action + "Response")
	writeXML(w, http.StatusOK, x.b.Bytes())
}

// writeEC2Error writes an ec2Query error:
// <Response><Errors><Error><Code>..</Code><Message>..</Message></Error></Errors><RequestID>..</RequestID></Response>.
func writeEC2Error(w http.ResponseWriter, id string, err error) {
	we := toWire(err)
	var x xmlWriter
	x.elem("Response", func() {
		x.elem("Errors", func() {
			x.elem("Error", func() {
				x.text("Code", we.code)
				x.text("Message", we.message)
			})
		})
		x.text("RequestID", id)
	})
	writeXML(w, we.status, x.b.Bytes())
}

// ec2Params reads EC2 query parameters; lists are flat (Name.N). The first
// malformed value is kept in err, so decoders read on and check once.
type ec2Params struct {
	n   *qnode
	err error
}

func (p *ec2Params) str(key string) *string {
	if c := p.n.get(key); c != nil {
		return &c.val
	}
	return nil
}

func (p *ec2Params) strs(key string) []string {
	c := p.n.get(key)
	if c == nil {
		return nil
	}
	out := []string{}
	for _, it := range c.items() {
		out = append(out, it.val)
	}
	return out
}

func (p *ec2Params) boolean(key string) *bool {
	c := p.n.get(key)
	if c == nil {
		return nil
	}
	b, err := strconv.ParseBool(c.val)
	if err != nil && p.err == nil {
		p.err = badRequest("InvalidParameterValue", "Value (%s) for parameter %s is invalid. Expected a boolean.", c.val, key)
	}
	return &b
}

func (p *ec2Params) int32(key string) *int32 {
	c := p.n.get(key)
	if c == nil {
		return nil
	}
	n, err := strconv.ParseInt(c.val, 10, 32)
	if err != nil && p.err == nil {
		p.err = badRequest("InvalidParameterValue", "Value (%s) for parameter %s is invalid. Expected an integer.", c.val, key)
	}
	v := int32(n)
	return &v
}

// filters reads Filter.N.Name and Filter.N.Value.M.
func (p *ec2Params) filters() []ec2types.Filter {
	c := p.n.get("Filter")
	if c == nil {
		return nil
	}
	out := []ec2types.Filter{}
	for _, it := range c.items() {
		f := &ec2Params{n: it}
		out = append(out, ec2types.Filter{Name: f.str("Name"), Values: f.strs("Value")})
	}
	return out
}

func describeImages(ctx context.Context, api cloud.EC2API, p *ec2Params, x *xmlWriter) error {
	in := &ec2.DescribeImagesInput{
		ImageIds:          p.strs("ImageId"),
		Owners:            p.strs("Owner"),
		ExecutableUsers:   p.strs("ExecutableBy"),
		Filters:           p.filters(),
		IncludeDeprecated: p.boolean("IncludeDeprecated"),
		IncludeDisabled:   p.boolean("IncludeDisabled"),
		DryRun:            p.boolean("DryRun"),
		MaxResults:        p.int32("MaxResults"),
		NextToken:         p.str("NextToken"),
	}
	if p.err != nil {
		return p.err
	}
	out, err := api.DescribeImages(ctx, in)
	if err != nil {
		return err
	}
	if out.Images != nil {
		x.elem("imagesSet", func() {
			for _, im := range out.Images {
				x.elem("item", func() { writeImage(x, im) })
			}
		})
	}
	x.str("nextToken", out.NextToken)
	return nil
}

func writeImage(x *xmlWriter, im ec2types.Image) {
	x.str("imageId", im.ImageId)
	x.str("imageLocation", im.ImageLocation)
	enum(x, "imageState", im.State)
	x.str("imageOwnerId", im.OwnerId)
	x.str("creationDate", im.CreationDate)
	x.boolean("isPublic", im.Public)
	enum(x, "architecture", im.Architecture)
	enum(x, "imageType", im.ImageType)
	x.str("name", im.Name)
	x.str("description", im.Description)
	enum(x, "rootDeviceType", im.RootDeviceType)
	x.str("rootDeviceName", im.RootDeviceName)
	enum(x, "virtualizationType", im.VirtualizationType)
	if im.BlockDeviceMappings != nil {
		x.elem("blockDeviceMapping", func() {
			for _, m := range im.BlockDeviceMappings {
				x.elem("item", func() {
					x.str("deviceName", m.DeviceName)
					x.str("virtualName", m.VirtualName)
					if e := m.Ebs; e != nil {
						x.elem("ebs", func() {
							x.str("snapshotId", e.SnapshotId)
							x.int32("volumeSize", e.VolumeSize)
							enum(x, "volumeType", e.VolumeType)
							x.boolean("deleteOnTermination", e.DeleteOnTermination)
							x.boolean("encrypted", e.Encrypted)
						})
					}
				})
			}
		})
	}
	if im.Tags != nil {
		x.elem("tagSet", func() {
			for _, t := range im.Tags {
				x.elem("item", func() {
					x.str("key", t.Key)
					x.str("value", t.Value)
				})
			}
		})
	}
}

func describeLaunchTemplateVersions(ctx context.Context, api cloud.EC2API, p *ec2Params, x *xmlWriter) error {
	in := &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateId:   p.str("LaunchTemplateId"),
		LaunchTemplateName: p.str("LaunchTemplateName"),
		Versions:           p.strs("LaunchTemplateVersion"),
		MinVersion:         p.str("MinVersion"),
		MaxVersion:         p.str("MaxVersion"),
		Filters:            p.filters(),
		ResolveAlias:       p.boolean("ResolveAlias"),
		DryRun:             p.boolean("DryRun"),
		MaxResults:         p.int32("MaxResults"),
		NextToken:          p.str("NextToken"),
	}
	if p.err != nil {
		return p.err
	}
	out, err := api.DescribeLaunchTemplateVersions(ctx, in)
	if err != nil {
		return err
	}
	if out.LaunchTemplateVersions != nil {
		x.elem("launchTemplateVersionSet", func() {
			for _, v := range out.LaunchTemplateVersions {
				x.elem("item", func() { writeLaunchTemplateVersion(x, &v) })
			}
		})
	}
	x.str("nextToken", out.NextToken)
	return nil
}

func writeLaunchTemplateVersion(x *xmlWriter, v *ec2types.LaunchTemplateVersion) {
	x.str("launchTemplateId", v.LaunchTemplateId)
	x.str("launchTemplateName", v.LaunchTemplateName)
	x.int64("versionNumber", v.VersionNumber)
	x.str("versionDescription", v.VersionDescription)
	x.time("createTime", v.CreateTime)
	x.str("createdBy", v.CreatedBy)
	x.boolean("defaultVersion", v.DefaultVersion)
	if d := v.LaunchTemplateData; d != nil {
		x.elem("launchTemplateData", func() {
			x.str("imageId", d.ImageId)
			enum(x, "instanceType", d.InstanceType)
		})
	}
}

func createLaunchTemplateVersion(ctx context.Context, api cloud.EC2API, p *ec2Params, x *xmlWriter) error {
	in := &ec2.CreateLaunchTemplateVersionInput{
		LaunchTemplateId:   p.str("LaunchTemplateId"),
		LaunchTemplateName: p.str("LaunchTemplateName"),
		SourceVersion:      p.str("SourceVersion"),
		VersionDescription: p.str("VersionDescription"),
		ClientToken:        p.str("ClientToken"),
		ResolveAlias:       p.boolean("ResolveAlias"),
		DryRun:             p.boolean("DryRun"),
	}
	if d := p.n.get("LaunchTemplateData"); d != nil {
		dp := &ec2Params{n: d}
		in.LaunchTemplateData = &ec2types.RequestLaunchTemplateData{
			ImageId:      dp.str("ImageId"),
			InstanceType: ec2types.InstanceType(dp.n.get("InstanceType").value()),
		}
	}
	if p.err != nil {
		return p.err
	}
	out, err := api.CreateLaunchTemplateVersion(ctx, in)
	if err != nil {
		return err
	}
	if v := out.LaunchTemplateVersion; v != nil {
		x.elem("launchTemplateVersion", func() { writeLaunchTemplateVersion(x, v) })
	}
	return nil
}

func deregisterImage(ctx context.Context, api cloud.EC2API, p *ec2Params, x *xmlWriter) error {
	in := &ec2.DeregisterImageInput{ImageId: p.str("ImageId"), DryRun: p.boolean("DryRun")}
	if p.err != nil {
		return p.err
	}
	out, err := api.DeregisterImage(ctx, in)
	if err != nil {
		return err
	}
	if out.Return != nil {
		x.text("return", strconv.FormatBool(*out.Return))
	}
	return nil
}

func deleteSnapshot(ctx context.Context, api cloud.EC2API, p *ec2Params, x *xmlWriter) error {
	in := &ec2.DeleteSnapshotInput{SnapshotId: p.str("SnapshotId"), DryRun: p.boolean("DryRun")}
	if p.err != nil {
		return p.err
	}
	_, err := api.DeleteSnapshot(ctx, in)
	return err
}
