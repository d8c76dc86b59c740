package cloud

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// Batched observation: what a tick reads for many apps at once, with as
// few calls as the APIs allow.

// NewestImages is NewestImage for many apps: one DescribeImages per image
// tag key the apps use (normally one), filtered on every app's tag value
// at once and on available images, owned by the account or any app's
// image accounts; each app then keeps only the images of its own tag
// value and its own owners (anyone can tag a public AMI with the app's
// tag). An app with no image is missing from the answer.
func (f *Fleet) NewestImages(ctx context.Context, apps []*config.App) (map[string]*release.Image, error) {
	byKey := map[string][]*config.App{}
	var keys []string
	for _, a := range apps {
		if _, ok := byKey[a.ImageTag.Key]; !ok {
			keys = append(keys, a.ImageTag.Key)
		}
		byKey[a.ImageTag.Key] = append(byKey[a.ImageTag.Key], a)
	}
	out := map[string]*release.Image{}
	for _, k := range keys {
		group := byKey[k]
		owners, values := []string{"self"}, []string{}
		for _, a := range group {
			owners = appendNew(owners, a.ImageOwners...)
			values = appendNew(values, a.ImageTag.Value)
		}
		images, err := f.describeImages(ctx, &ec2.DescribeImagesInput{
			Owners: owners,
			Filters: []ec2types.Filter{
				{Name: aws.String("tag:" + k), Values: values},
				{Name: aws.String("state"), Values: []string{"available"}},
			},
		})
		if err != nil {
			return nil, fmt.Errorf("describe images tagged %s: %w", k, err)
		}
		for _, a := range group {
			var newest *release.Image
			for _, i := range images {
				img := toImage(i)
				if img.Tags[k] != a.ImageTag.Value || !ownedFor(a, img.Owner) {
					continue
				}
				if newest == nil || img.Created.After(newest.Created) || (img.Created.Equal(newest.Created) && img.ID > newest.ID) {
					newest = &img
				}
			}
			if newest != nil {
				out[a.Name] = newest
			}
		}
	}
	return out, nil
}

// ownedFor reports whether an image of owner is one NewestImage would
// have asked for on the app's behalf: the account's own, or its image
// accounts'. An image of unknown owner is kept (the planner refuses it,
// and says why).
func ownedFor(app *config.App, owner string) bool {
	if owner == "" || owner == app.Account || app.Account == "" {
		return true
	}
	for _, o := range app.ImageOwners {
		if o == owner {
			return true
		}
	}
	return false
}

func appendNew(xs []string, ys ...string) []string {
	for _, y := range ys {
		found := false
		for _, x := range xs {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			xs = append(xs, y)
		}
	}
	return xs
}
