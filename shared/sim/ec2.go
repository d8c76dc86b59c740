package sim

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

type image struct {
	// owner is "self" for the account's images, "amazon" for AWS's public
	// ones, or another account's id.
	owner                     string
	public                    bool
	snapshotDeleted           bool
	id, name, state, snapshot string
	created                   time.Time
	tags                      map[string]string
}

type ltVersion struct {
	number  int64
	imageID string
	desc    string
	created time.Time
}

type template struct {
	id, name string
	versions []*ltVersion
	dflt     int64
	tokens   map[string]int64
}

// EC2 is the simulated EC2 API.
type EC2 struct{ c *Cloud }

// EC2 returns the EC2 client of the cloud.
func (c *Cloud) EC2() *EC2 { return &EC2{c} }

// AddImage registers an available AMI and returns its id.
func (c *Cloud) AddImage(name string, created time.Time, tags map[string]string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.id("ami")
	t := map[string]string{}
	for k, v := range tags {
		t[k] = v
	}
	c.images[id] = &image{id: id, owner: "self", name: name, state: "available", created: created.UTC(), tags: t, snapshot: c.id("snap")}
	return id
}

// AddImageID registers an available AMI under a given id (fixtures).
func (c *Cloud) AddImageID(id, name string, created time.Time, tags map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := map[string]string{}
	for k, v := range tags {
		t[k] = v
	}
	c.images[id] = &image{id: id, owner: "self", name: name, state: "available", created: created.UTC(), tags: t, snapshot: c.id("snap")}
}

// AddPublicImage registers one of AWS's public AMIs (owner "amazon").
func (c *Cloud) AddPublicImage(id, name string, created time.Time) {
	c.AddImageID(id, name, created, nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.images[id].owner = "amazon"
}

// SetImageOwner makes an AMI another account's (a central image account,
// or a stranger's); public makes it launchable by anyone.
func (c *Cloud) SetImageOwner(id, account string, public bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.images[id].owner = account
	c.images[id].public = public
}

// ownerID is the image's OwnerId as AWS reports it.
func (c *Cloud) ownerID(im *image) string {
	switch im.owner {
	case "self":
		return c.Account
	case "amazon":
		return AmazonAccount
	}
	return im.owner
}

// ownedBy reports whether one of DescribeImages' Owners values names the
// image's owner: "self", "amazon" or an account id.
func (c *Cloud) ownedBy(im *image, owners []string) bool {
	id := c.ownerID(im)
	for _, o := range owners {
		switch o {
		case "self":
			if id == c.Account {
				return true
			}
		case "amazon":
			if im.owner == "amazon" {
				return true
			}
		default:
			if o == id {
				return true
			}
		}
	}
	return false
}

// SetImageState changes an AMI's state (pending, available, failed, ...).
func (c *Cloud) SetImageState(id, state string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if im := c.images[id]; im != nil {
		im.state = state
	}
}

// AddLaunchTemplate creates a launch template whose version 1 launches ami.
func (c *Cloud) AddLaunchTemplate(id, name, ami string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.templates[id] = &template{id: id, name: name, versions: []*ltVersion{{number: 1, imageID: ami, created: c.now}}, dflt: 1, tokens: map[string]int64{}}
}

func notFound(code, format string, args ...any) error {
	return APIError(code, fmt.Sprintf(format, args...), smithy.FaultClient)
}

func (t *template) resolve(v string) (*ltVersion, error) {
	var n int64
	switch v {
	case "$Latest":
		n = t.versions[len(t.versions)-1].number
	case "$Default", "":
		n = t.dflt
	default:
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, notFound("InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %q for %s", v, t.id)
		}
		n = x
	}
	for _, lv := range t.versions {
		if lv.number == n {
			return lv, nil
		}
	}
	return nil, notFound("InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for %s", v, t.id)
}

func (e *EC2) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, _ ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	return serve(e.c, ctx, OpDescribeImages, in, e.describeImages)
}

func (e *EC2) describeImages(in *ec2.DescribeImagesInput) (*ec2.DescribeImagesOutput, error) {
	c := e.c
	if in.MaxResults == nil && in.NextToken != nil {
		return nil, APIError("InvalidParameterCombination", "NextToken needs MaxResults", smithy.FaultClient)
	}
	var out []ec2types.Image
	if len(in.ImageIds) > 0 {
		for _, id := range in.ImageIds {
			if c.images[id] == nil {
				return nil, notFound("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
			}
		}
	}
	ids := make([]string, 0, len(c.images))
	for id := range c.images {
		ids = append(ids, id)
	}
	sort.Strings(ids)
next:
	for _, id := range ids {
		im := c.images[id]
		if im.state == "deregistered" {
			continue
		}
		if len(in.ImageIds) > 0 && !contains(in.ImageIds, id) {
			continue
		}
		// Without ids, only the owners asked for (by default the account's
		// own: the sim has no catalogue of everyone's public images).
		if owners := in.Owners; len(in.ImageIds) == 0 && !c.ownedBy(im, owners) && (len(owners) > 0 || c.ownerID(im) != c.Account) {
			continue
		}
		for _, f := range in.Filters {
			name := aws.ToString(f.Name)
			var got string
			switch {
			case strings.HasPrefix(name, "tag:"):
				v, ok := im.tags[strings.TrimPrefix(name, "tag:")]
				if !ok {
					continue next
				}
				got = v
			case name == "state":
				got = im.state
			case name == "image-id":
				got = im.id
			case name == "name":
				got = im.name
			default:
				return nil, notFound("InvalidParameterValue", "The filter '%s' is invalid", name)
			}
			if !contains(f.Values, got) {
				continue next
			}
		}
		i := im.sdk()
		i.OwnerId = aws.String(c.ownerID(im))
		i.Public = aws.Bool(im.public || im.owner == "amazon")
		if im.owner == "amazon" {
			i.ImageOwnerAlias = aws.String("amazon")
		}
		out = append(out, i)
	}
	if in.MaxResults == nil {
		return &ec2.DescribeImagesOutput{Images: out}, nil // unpaginated
	}
	size, err := pageSize("maxResults", in.MaxResults, maxImagesPage, maxImagesPage)
	if err != nil {
		return nil, err
	}
	from, to, next, err := pageOf(OpDescribeImages, aws.ToString(in.NextToken), size, len(out))
	if err != nil {
		return nil, err
	}
	res := &ec2.DescribeImagesOutput{Images: out[from:to]}
	if next != "" {
		res.NextToken = aws.String(next)
	}
	return res, nil
}

// creationDate is the layout of an image's CreationDate: AWS writes
// milliseconds.
const creationDate = "2006-01-02T15:04:05.000Z"

// rootDevice is the root device of every simulated AMI: an EBS-backed
// Amazon Linux image's.
const rootDevice = "/dev/xvda"

func (im *image) sdk() ec2types.Image {
	i := ec2types.Image{
		ImageId: aws.String(im.id), Name: aws.String(im.name), State: ec2types.ImageState(im.state),
		CreationDate: aws.String(im.created.UTC().Format(creationDate)),
		ImageType:    ec2types.ImageTypeValuesMachine, Architecture: ec2types.ArchitectureValuesX8664,
		VirtualizationType: ec2types.VirtualizationTypeHvm,
		RootDeviceType:     ec2types.DeviceTypeEbs, RootDeviceName: aws.String(rootDevice),
		BlockDeviceMappings: []ec2types.BlockDeviceMapping{{
			DeviceName: aws.String(rootDevice), Ebs: &ec2types.EbsBlockDevice{SnapshotId: aws.String(im.snapshot),
				VolumeSize: aws.Int32(8), VolumeType: ec2types.VolumeTypeGp3, DeleteOnTermination: aws.Bool(true), Encrypted: aws.Bool(false)},
		}},
	}
	keys := make([]string, 0, len(im.tags))
	for k := range im.tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		i.Tags = append(i.Tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(im.tags[k])})
	}
	return i
}

func (e *EC2) DescribeLaunchTemplateVersions(ctx context.Context, in *ec2.DescribeLaunchTemplateVersionsInput, _ ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error) {
	return serve(e.c, ctx, OpDescribeLaunchTemplateVersions, in, e.describeVersions)
}

func (e *EC2) describeVersions(in *ec2.DescribeLaunchTemplateVersionsInput) (*ec2.DescribeLaunchTemplateVersionsOutput, error) {
	c := e.c
	if _, err := pageSize("maxResults", in.MaxResults, maxTemplateVersion, maxTemplateVersion); err != nil {
		return nil, err
	}
	t := c.templates[aws.ToString(in.LaunchTemplateId)]
	if t == nil {
		return nil, notFound("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", aws.ToString(in.LaunchTemplateId))
	}
	var out []ec2types.LaunchTemplateVersion
	vs := in.Versions
	if len(vs) == 0 {
		for _, v := range t.versions {
			vs = append(vs, strconv.FormatInt(v.number, 10))
		}
	}
	for _, v := range vs {
		lv, err := t.resolve(v)
		if err != nil {
			return nil, err
		}
		out = append(out, c.versionSDK(t, lv))
	}
	return &ec2.DescribeLaunchTemplateVersionsOutput{LaunchTemplateVersions: out}, nil
}

// versionSDK is a launch template version as DescribeLaunchTemplateVersions
// and CreateLaunchTemplateVersion report it. The simulation has one
// principal, the account's root.
func (c *Cloud) versionSDK(t *template, lv *ltVersion) ec2types.LaunchTemplateVersion {
	v := ec2types.LaunchTemplateVersion{
		LaunchTemplateId: aws.String(t.id), LaunchTemplateName: aws.String(t.name),
		VersionNumber: aws.Int64(lv.number), DefaultVersion: aws.Bool(lv.number == t.dflt),
		CreateTime: aws.Time(lv.created), CreatedBy: aws.String("arn:aws:iam::" + c.Account + ":root"),
		LaunchTemplateData: &ec2types.ResponseLaunchTemplateData{ImageId: aws.String(lv.imageID)},
	}
	if lv.desc != "" {
		v.VersionDescription = aws.String(lv.desc)
	}
	return v
}

func (e *EC2) CreateLaunchTemplateVersion(ctx context.Context, in *ec2.CreateLaunchTemplateVersionInput, _ ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateVersionOutput, error) {
	return serve(e.c, ctx, OpCreateLaunchTemplateVersion, in, e.createVersion)
}

func (e *EC2) createVersion(in *ec2.CreateLaunchTemplateVersionInput) (*ec2.CreateLaunchTemplateVersionOutput, error) {
	c := e.c
	t := c.templates[aws.ToString(in.LaunchTemplateId)]
	if t == nil {
		return nil, notFound("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", aws.ToString(in.LaunchTemplateId))
	}
	// The output is the whole version, as DescribeLaunchTemplateVersions
	// would describe it.
	ver := func(n int64) (*ec2.CreateLaunchTemplateVersionOutput, error) {
		lv, err := t.resolve(strconv.FormatInt(n, 10))
		if err != nil {
			return nil, err
		}
		v := c.versionSDK(t, lv)
		return &ec2.CreateLaunchTemplateVersionOutput{LaunchTemplateVersion: &v}, nil
	}
	// A repeated ClientToken returns the version it created the first time.
	if tok := aws.ToString(in.ClientToken); tok != "" {
		if n, ok := t.tokens[tok]; ok {
			return ver(n)
		}
	}
	src, err := t.resolve(aws.ToString(in.SourceVersion))
	if err != nil {
		return nil, err
	}
	ami := src.imageID
	if in.LaunchTemplateData != nil && in.LaunchTemplateData.ImageId != nil {
		ami = aws.ToString(in.LaunchTemplateData.ImageId)
	}
	if im := c.images[ami]; im == nil || im.state == "deregistered" {
		return nil, notFound("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", ami)
	}
	n := t.versions[len(t.versions)-1].number + 1
	t.versions = append(t.versions, &ltVersion{number: n, imageID: ami, desc: aws.ToString(in.VersionDescription), created: c.now})
	if tok := aws.ToString(in.ClientToken); tok != "" {
		t.tokens[tok] = n
	}
	return ver(n)
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func (e *EC2) DeregisterImage(ctx context.Context, in *ec2.DeregisterImageInput, _ ...func(*ec2.Options)) (*ec2.DeregisterImageOutput, error) {
	return serve(e.c, ctx, OpDeregisterImage, in, e.deregisterImage)
}

func (e *EC2) deregisterImage(in *ec2.DeregisterImageInput) (*ec2.DeregisterImageOutput, error) {
	c := e.c
	id := aws.ToString(in.ImageId)
	im := c.images[id]
	if im == nil {
		return nil, notFound("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
	}
	// AWS's code for an AMI that has been deregistered and is no longer
	// available (the EC2 API's error codes), not NotFound.
	if im.state == "deregistered" {
		return nil, notFound("InvalidAMIID.Unavailable", "The image id '[%s]' is no longer available", id)
	}
	im.state = "deregistered"
	return &ec2.DeregisterImageOutput{Return: aws.Bool(true)}, nil
}

func (e *EC2) DeleteSnapshot(ctx context.Context, in *ec2.DeleteSnapshotInput, _ ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error) {
	return serve(e.c, ctx, OpDeleteSnapshot, in, e.deleteSnapshot)
}

func (e *EC2) deleteSnapshot(in *ec2.DeleteSnapshotInput) (*ec2.DeleteSnapshotOutput, error) {
	c := e.c
	id := aws.ToString(in.SnapshotId)
	for _, im := range c.images {
		if im.snapshot != id {
			continue
		}
		if im.state != "deregistered" {
			return nil, notFound("InvalidSnapshot.InUse", "The snapshot %s is currently in use by %s", id, im.id)
		}
		if im.snapshotDeleted {
			break
		}
		im.snapshotDeleted = true
		return &ec2.DeleteSnapshotOutput{}, nil
	}
	return nil, notFound("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
}

// Snapshots lists the snapshots not yet deleted.
func (c *Cloud) Snapshots() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, im := range c.images {
		if !im.snapshotDeleted {
			out = append(out, im.snapshot)
		}
	}
	sort.Strings(out)
	return out
}
