package cloud

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// ImagesByID describes the given AMIs in one DescribeImages call. EC2
// fails the whole call when one id is unknown; then each is described on
// its own and the missing ones are left out.
func (f *Fleet) ImagesByID(ctx context.Context, ids []string) ([]release.Image, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	out, err := f.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: ids})
	if err == nil {
		imgs := make([]release.Image, 0, len(out.Images))
		for _, i := range out.Images {
			imgs = append(imgs, toImage(i))
		}
		return imgs, nil
	}
	if !IsNotFound(err) {
		return nil, fmt.Errorf("describe images %v: %w", ids, err)
	}
	var imgs []release.Image
	for _, id := range ids {
		img, err := f.Image(ctx, id)
		if err != nil {
			return imgs, err
		}
		if img != nil {
			imgs = append(imgs, *img)
		}
	}
	return imgs, nil
}

// ColorImages lists the images the app's colors run (one observation and
// one DescribeImages): the live color's, and the other's when it has
// instances ("staged") or none ("idle", left out).
func (f *Fleet) ColorImages(ctx context.Context, app *config.App) ([]release.ColorImage, error) {
	obs, err := f.Observe(ctx, app)
	if err != nil {
		return nil, err
	}
	live := obs.Live()
	var out []release.ColorImage
	var ids []string
	for _, c := range config.Colors {
		v := obs.Color(c)
		role := "live"
		switch {
		case c == live:
		case v.Desired > 0:
			role = "staged"
		default:
			continue
		}
		if v.AMI == "" {
			continue
		}
		out = append(out, release.ColorImage{Color: c, Role: role, Image: release.Image{ID: v.AMI}})
		ids = append(ids, v.AMI)
	}
	imgs, err := f.ImagesByID(ctx, ids)
	if err != nil {
		return out, err
	}
	for i := range out {
		for _, img := range imgs {
			if img.ID == out[i].Image.ID {
				out[i].Image = img
			}
		}
	}
	return out, nil
}
