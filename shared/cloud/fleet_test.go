package cloud_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/sim"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// lostResponse is EC2 whose first DeregisterImage is carried out but
// whose answer never arrives, as when a response is lost on the way back:
// the caller sees a timeout and retries.
type lostResponse struct {
	cloud.EC2API
	lost bool
}

func (l *lostResponse) DeregisterImage(ctx context.Context, in *ec2.DeregisterImageInput, opts ...func(*ec2.Options)) (*ec2.DeregisterImageOutput, error) {
	out, err := l.EC2API.DeregisterImage(ctx, in, opts...)
	if err == nil && !l.lost {
		l.lost = true
		return nil, context.DeadlineExceeded
	}
	return out, err
}

// A prune whose DeregisterImage was carried out but whose response was
// lost retries it; AWS then answers InvalidAMIID.Unavailable (the AMI is
// deregistered), which DeleteImage takes as done, and it goes on to the
// snapshot. A second prune of the same image (a person running it again)
// succeeds too.
func TestDeleteImageAfterALostDeregisterResponse(t *testing.T) {
	ctx := context.Background()
	c := sim.New(t0)
	app := &config.App{Name: "web", ImageTag: config.Tag{Key: "kaizen:app", Value: "web"}}
	id := c.NewAMI(app, "web-golden-1", "")
	ec := &lostResponse{EC2API: c.EC2()}
	f := &cloud.Fleet{EC2: ec, Attempts: 3}
	img, err := f.Image(ctx, id)
	if err != nil || img == nil || len(img.Snapshots) != 1 {
		t.Fatalf("image %s: %+v, %v", id, img, err)
	}

	if err := f.DeleteImage(ctx, *img); err != nil {
		t.Fatalf("prune after a lost DeregisterImage response: %v", err)
	}
	if !ec.lost {
		t.Fatal("the response was never lost: the test tests nothing")
	}
	var codes []string
	for _, call := range c.Calls() {
		var ae smithy.APIError
		if call.Op == string(sim.OpDeregisterImage) && errors.As(call.Err, &ae) {
			codes = append(codes, ae.ErrorCode())
		}
	}
	if len(codes) != 1 || codes[0] != "InvalidAMIID.Unavailable" {
		t.Fatalf("the retried DeregisterImage failed with %v, want InvalidAMIID.Unavailable once", codes)
	}
	if snaps := c.Snapshots(); len(snaps) != 0 {
		t.Fatalf("snapshots left: %v", snaps)
	}
	if err := f.DeleteImage(ctx, *img); err != nil {
		t.Fatalf("prune of an image already deleted: %v", err)
	}
	if got := c.Mutations(); got["DeregisterImage"] != 1 || got["DeleteSnapshot"] != 1 {
		t.Fatalf("mutations %v, want one DeregisterImage and one DeleteSnapshot", got)
	}
}

// An AMI's CreationDate carries milliseconds, as AWS writes it; the fleet
// reads it.
func TestImageCreationDate(t *testing.T) {
	c := sim.New(t0)
	app := &config.App{Name: "web", ImageTag: config.Tag{Key: "kaizen:app", Value: "web"}}
	created := t0.Add(-90*time.Minute + 250*time.Millisecond)
	id := c.AddImage("web-golden-0", created, map[string]string{app.ImageTag.Key: app.ImageTag.Value})
	out, err := c.EC2().DescribeImages(context.Background(), &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(out.Images[0].CreationDate), "2026-11-24T07:30:00.250Z"; got != want {
		t.Fatalf("CreationDate %q, want %q", got, want)
	}
	img, err := (&cloud.Fleet{EC2: c.EC2()}).Image(context.Background(), id)
	if err != nil || img == nil || !img.Created.Equal(created) {
		t.Fatalf("image created %v (%v), want %v", img, err, created)
	}
}
