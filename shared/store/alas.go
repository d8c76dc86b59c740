package store

// The ALAS poller's memory and the rebuild start claim, in the same table:
//
//	app#NAME  feed#URL        a feed's validators: etag, lastModified, hash
//	app#NAME  alas#ID         an advisory: id, severity, action (rebuild,
//	                          digest or known), digest, rebuilt, buildId,
//	                          digestedAt (unix ms), recorded, body (the
//	                          alas.Advisory as JSON)
//	app#NAME  digest#last     the app's last digest: at (unix ms), atText
//	                          (RFC 3339, for people reading the table)
//	app#NAME  rebuild#claim   the app's build start claim (rebuild.Claims):
//	                          token, untilMs (unix ms), body (JSON), and
//	                          expires (unix s, a day later) for the table's TTL
//
// The digest and rebuilt booleans are what the queries filter on. Items
// written before the action attribute existed have none; they read as
// rebuild (digest false) or digest (digest true), which is what they were.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kaizen-sre/kaizen/shared/alas"
	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/rebuild"
	"github.com/kaizen-sre/kaizen/shared/release"
)

var (
	_ alas.Store     = (*Dynamo)(nil)
	_ rebuild.Claims = (*Dynamo)(nil)
)

const (
	feedPrefix    = "feed#"
	alasPrefix    = "alas#"
	claimSortKey  = "rebuild#claim"
	digestSortKey = "digest#last"
)

func boolean(v bool) *ddbtypes.AttributeValueMemberBOOL {
	return &ddbtypes.AttributeValueMemberBOOL{Value: v}
}

// FeedValidators implements alas.Store.
func (d *Dynamo) FeedValidators(ctx context.Context, app, url string) (alas.Validators, error) {
	out, err := d.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(d.Table), Key: key("app#"+app, feedPrefix+url), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return alas.Validators{}, fmt.Errorf("read validators of %s for %s: %w", url, app, err)
	}
	if out.Item == nil {
		return alas.Validators{}, nil
	}
	return alas.Validators{ETag: str(out.Item, "etag"), LastModified: str(out.Item, "lastModified"), Hash: str(out.Item, "hash"), Recorded: str(out.Item, "recorded")}, nil
}

// PutFeedValidators implements alas.Store. Empty validators are left out of
// the item.
func (d *Dynamo) PutFeedValidators(ctx context.Context, app, url string, v alas.Validators) error {
	it := key("app#"+app, feedPrefix+url)
	for k, val := range map[string]string{"etag": v.ETag, "lastModified": v.LastModified, "hash": v.Hash, "recorded": v.Recorded} {
		if val != "" {
			it[k] = s(val)
		}
	}
	if _, err := d.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.Table), Item: it}); err != nil {
		return fmt.Errorf("save validators of %s for %s: %w", url, app, err)
	}
	return nil
}

// RecordAdvisory implements alas.Store with a conditional put: of any
// number of concurrent callers, only the one whose put created the item
// gets first == true.
func (d *Dynamo) RecordAdvisory(ctx context.Context, app string, a alas.Advisory, action alas.Action) (bool, error) {
	if !action.Recordable() {
		return false, fmt.Errorf("record %s for %s: action %q is not rebuild, digest or known", a.ID, app, action)
	}
	body, err := json.Marshal(a)
	if err != nil {
		return false, fmt.Errorf("record %s for %s: %w", a.ID, app, err)
	}
	it := key("app#"+app, alasPrefix+a.ID)
	it["id"] = s(a.ID)
	if a.Severity != "" {
		it["severity"] = s(a.Severity)
	}
	it["action"] = s(string(action))
	it["digest"] = boolean(action == alas.ActionDigest)
	it["rebuilt"] = boolean(false)
	it["recorded"] = n(time.Now().Unix())
	it["body"] = s(string(body))
	_, err = d.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.Table), Item: it,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if awsapi.IsConditionalCheckFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record %s for %s: %w", a.ID, app, err)
	}
	return true, nil
}

// PendingAdvisories implements alas.Store: the app's advisory items that
// are neither digest nor known nor rebuilt, sorted by id.
func (d *Dynamo) PendingAdvisories(ctx context.Context, app string) ([]alas.Advisory, error) {
	return d.queryAdvisories(ctx, app, "pending",
		"#d = :no AND #r = :no AND (attribute_not_exists(#a) OR #a = :rebuild)",
		map[string]string{"#d": "digest", "#r": "rebuilt", "#a": "action"},
		map[string]ddbtypes.AttributeValue{":no": boolean(false), ":rebuild": s(string(alas.ActionRebuild))})
}

// DigestAdvisories implements alas.Store: the app's digest items without
// digestedAt, sorted by id.
func (d *Dynamo) DigestAdvisories(ctx context.Context, app string) ([]alas.Advisory, error) {
	return d.queryAdvisories(ctx, app, "digest",
		"#d = :yes AND attribute_not_exists(#at)",
		map[string]string{"#d": "digest", "#at": "digestedAt"},
		map[string]ddbtypes.AttributeValue{":yes": boolean(true)})
}

func (d *Dynamo) queryAdvisories(ctx context.Context, app, what, filter string, names map[string]string, values map[string]ddbtypes.AttributeValue) ([]alas.Advisory, error) {
	values[":pk"] = s("app#" + app)
	values[":p"] = s(alasPrefix)
	var out []alas.Advisory
	var start map[string]ddbtypes.AttributeValue
	for {
		q, err := d.DB.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(d.Table),
			KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
			FilterExpression:          aws.String(filter),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
			ConsistentRead:            aws.Bool(true),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, fmt.Errorf("query %s advisories of %s: %w", what, app, err)
		}
		for _, it := range q.Items {
			var a alas.Advisory
			if err := json.Unmarshal([]byte(str(it, "body")), &a); err != nil {
				return nil, fmt.Errorf("%s advisories of %s: corrupt item %s: %w", what, app, str(it, "sk"), err)
			}
			out = append(out, a)
		}
		if len(q.LastEvaluatedKey) == 0 {
			break
		}
		start = q.LastEvaluatedKey
	}
	slices.SortFunc(out, func(a, b alas.Advisory) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// MarkRebuilt implements alas.Store. The narrow DynamoDB API has no
// UpdateItem, so each advisory is read and put back whole, on condition
// that it still exists; unknown ids are skipped.
func (d *Dynamo) MarkRebuilt(ctx context.Context, app string, ids []string, buildID string) error {
	return d.markAdvisories(ctx, app, ids, "rebuilt", func(it map[string]ddbtypes.AttributeValue) bool {
		it["rebuilt"] = boolean(true)
		it["buildId"] = s(buildID)
		return true
	})
}

// MarkDigested implements alas.Store: it sets digestedAt on the digest
// items among ids (read and put back whole, as in MarkRebuilt), then
// records at in the app's digest#last item, on condition that the stored
// time is not later. The advisories come first: if the second step fails,
// the last digest time stays old and the next poll sends a digest of what
// is left, which loses nothing.
func (d *Dynamo) MarkDigested(ctx context.Context, app string, ids []string, at time.Time) error {
	ms := at.UnixMilli()
	err := d.markAdvisories(ctx, app, ids, "digested", func(it map[string]ddbtypes.AttributeValue) bool {
		if v, ok := it["digest"].(*ddbtypes.AttributeValueMemberBOOL); !ok || !v.Value {
			return false
		}
		it["digestedAt"] = n(ms)
		return true
	})
	if err != nil {
		return err
	}
	it := key("app#"+app, digestSortKey)
	it["at"] = n(ms)
	it["atText"] = s(time.UnixMilli(ms).UTC().Format(time.RFC3339Nano))
	_, err = d.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.Table), Item: it,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #at <= :at"),
		ExpressionAttributeNames:  map[string]string{"#at": "at"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":at": n(ms)},
	})
	if err != nil && !awsapi.IsConditionalCheckFailed(err) {
		return fmt.Errorf("record the last digest time of %s: %w", app, err)
	}
	return nil
}

// LastDigest implements alas.Store.
func (d *Dynamo) LastDigest(ctx context.Context, app string) (time.Time, error) {
	out, err := d.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(d.Table), Key: key("app#"+app, digestSortKey), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("read the last digest time of %s: %w", app, err)
	}
	if out.Item == nil {
		return time.Time{}, nil
	}
	if _, ok := out.Item["at"].(*ddbtypes.AttributeValueMemberN); !ok {
		return time.Time{}, fmt.Errorf("last digest time of %s: corrupt item without a numeric at", app)
	}
	return time.UnixMilli(num(out.Item, "at")).UTC(), nil
}

// markAdvisories reads each advisory item of ids, lets set change it (or
// skip it by returning false) and puts it back on condition that it still
// exists. Unknown ids are skipped.
func (d *Dynamo) markAdvisories(ctx context.Context, app string, ids []string, what string, set func(map[string]ddbtypes.AttributeValue) bool) error {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		k := key("app#"+app, alasPrefix+id)
		got, err := d.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.Table), Key: k, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return fmt.Errorf("mark %s %s for %s: %w", id, what, app, err)
		}
		if got.Item == nil || !set(got.Item) {
			continue
		}
		_, err = d.DB.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(d.Table), Item: got.Item,
			ConditionExpression: aws.String("attribute_exists(pk)"),
		})
		if err != nil && !awsapi.IsConditionalCheckFailed(err) {
			return fmt.Errorf("mark %s %s for %s: %w", id, what, app, err)
		}
	}
	return nil
}

// ClaimStart implements rebuild.Claims with a conditional put.
func (d *Dynamo) ClaimStart(ctx context.Context, app string, c rebuild.Claim, now time.Time) (bool, error) {
	it, err := claimItem(app, c)
	if err != nil {
		return false, err
	}
	_, err = d.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.Table), Item: it,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #u <= :now"),
		ExpressionAttributeNames:  map[string]string{"#u": "untilMs"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":now": n(now.UnixMilli())},
	})
	if awsapi.IsConditionalCheckFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim build start of %s: %w", app, err)
	}
	return true, nil
}

// StartClaim implements rebuild.Claims.
func (d *Dynamo) StartClaim(ctx context.Context, app string) (rebuild.Claim, bool, error) {
	out, err := d.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(d.Table), Key: key("app#"+app, claimSortKey), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return rebuild.Claim{}, false, fmt.Errorf("read build start claim of %s: %w", app, err)
	}
	if out.Item == nil {
		return rebuild.Claim{}, false, nil
	}
	var c rebuild.Claim
	if err := json.Unmarshal([]byte(str(out.Item, "body")), &c); err != nil {
		return rebuild.Claim{}, false, fmt.Errorf("build start claim of %s: corrupt body: %w", app, err)
	}
	return c, true, nil
}

// UpdateStartClaim implements rebuild.Claims with a put on condition that
// the stored claim has c.Token.
func (d *Dynamo) UpdateStartClaim(ctx context.Context, app string, c rebuild.Claim) error {
	it, err := claimItem(app, c)
	if err != nil {
		return err
	}
	_, err = d.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.Table), Item: it,
		ConditionExpression:       aws.String("#t = :t"),
		ExpressionAttributeNames:  map[string]string{"#t": "token"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":t": s(c.Token)},
	})
	if awsapi.IsConditionalCheckFailed(err) {
		return fmt.Errorf("update build start claim of %s: %w", app, rebuild.ErrClaimLost)
	}
	if err != nil {
		return fmt.Errorf("update build start claim of %s: %w", app, err)
	}
	return nil
}

// DropStartClaim implements rebuild.Claims with a delete on condition that
// the stored claim has token.
func (d *Dynamo) DropStartClaim(ctx context.Context, app, token string) error {
	_, err := d.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(d.Table), Key: key("app#"+app, claimSortKey),
		ConditionExpression:       aws.String("#t = :t"),
		ExpressionAttributeNames:  map[string]string{"#t": "token"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":t": s(token)},
	})
	if err != nil && !awsapi.IsConditionalCheckFailed(err) {
		return fmt.Errorf("drop build start claim of %s: %w", app, err)
	}
	return nil
}

func claimItem(app string, c rebuild.Claim) (map[string]ddbtypes.AttributeValue, error) {
	if c.Token == "" {
		return nil, errors.New("build start claim of " + app + ": empty token")
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("build start claim of %s: %w", app, err)
	}
	it := key("app#"+app, claimSortKey)
	it["token"] = s(c.Token)
	it["untilMs"] = n(c.Expires.UnixMilli())
	// An expired claim is replaced by the next one anyway; the TTL only
	// tidies up after apps that are gone.
	it["expires"] = n(c.Expires.Add(24 * time.Hour).Unix())
	it["body"] = s(string(body))
	return it, nil
}

// AdvisoryNotes returns what was recorded about the app's advisories with
// the given ids (severity, CVEs), for an approval's evidence (one query of
// the app's advisories). Ids never recorded are left out.
func (d *Dynamo) AdvisoryNotes(ctx context.Context, app string, ids []string) ([]release.AdvisoryNote, error) {
	all, err := d.queryAdvisories(ctx, app, "recorded", "attribute_exists(#b)",
		map[string]string{"#b": "body"}, map[string]ddbtypes.AttributeValue{})
	if err != nil {
		return nil, err
	}
	return alas.Notes(all, ids), nil
}
