package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// Dynamo is the DynamoDB Store. One table, keys pk/sk:
//
//	app#NAME  state            the current item: version, body (JSON), and
//	                           ledger (JSON): the ledger entries its save
//	                           recorded
//	app#NAME  release#ID       a ledger entry: body (JSON), state, ami, and
//	                           version: the state version that recorded it
//	event#ID  event            a processed event id, with TTL attribute expires
//
// DynamoDB deletes expired items lazily (within days), so expiry is also
// checked in code.
//
// A Save cannot half-write: it is one conditional put of the state item,
// which carries that save's ledger entries, so the state and its ledger
// entries are committed together or not at all (DynamoDB writes one item
// atomically). The entries are then copied to their own ledger items, for
// History to query; History also reads the state item, so an entry whose
// copy failed (or whose Lambda stopped) still shows. Before a save replaces
// the state item it copies the entries the item carries, if their ledger
// items lack them, so none is lost; every copy is conditional on the entry
// being newer than its ledger item, so a late one never overwrites a newer.
// (TransactWriteItems would commit the state and ledger items in one
// request, but dynalite, the DynamoDB API the tests and the demo run
// against, does not implement transactions.)
type Dynamo struct {
	DB    awsapi.DynamoDBAPI
	Table string

	mu sync.Mutex
	// carried remembers, per app, the ledger entries the state item carries
	// at a version (the item never changes without a new version), so a
	// Save after a Load need not read it again, and whether they are known
	// to be in their ledger items.
	carried map[string]carriedEntries
}

type carriedEntries struct {
	version int64
	entries []release.Release
	copied  bool
	// at is the version that recorded the entries (0: version): a
	// write-ahead record carries them forward unchanged (carryForward),
	// and the item says so in its ledgerVersion attribute.
	at int64
}

// recorded is the version that recorded the entries: their ledger items
// carry it.
func (c carriedEntries) recorded() int64 {
	if c.at != 0 {
		return c.at
	}
	return c.version
}

var _ Store = (*Dynamo)(nil)

func s(v string) *ddbtypes.AttributeValueMemberS { return &ddbtypes.AttributeValueMemberS{Value: v} }
func n(v int64) *ddbtypes.AttributeValueMemberN {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func key(pk, sk string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": s(pk), "sk": s(sk)}
}

func str(item map[string]ddbtypes.AttributeValue, k string) string {
	if v, ok := item[k].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func num(item map[string]ddbtypes.AttributeValue, k string) int64 {
	if v, ok := item[k].(*ddbtypes.AttributeValueMemberN); ok {
		x, _ := strconv.ParseInt(v.Value, 10, 64)
		return x
	}
	return 0
}

const stateSortKey = "state"

// getState reads the app's state item (nil if the app has none) and the
// ledger entries it carries.
func (d *Dynamo) getState(ctx context.Context, app string) (map[string]ddbtypes.AttributeValue, []release.Release, error) {
	item, entries, err := getWithLedger[release.Release](ctx, d, app, stateSortKey, "state")
	if item != nil {
		d.remember(app, carriedEntries{version: num(item, "version"), entries: entries, at: num(item, "ledgerVersion")})
	}
	return item, entries, err
}

// getWithLedger reads one of the app's items with a consistent read (nil
// if there is none) and decodes the ledger entries it carries; what names
// the item in errors ("state", "refresh state").
func getWithLedger[T any](ctx context.Context, d *Dynamo, app, sk, what string) (map[string]ddbtypes.AttributeValue, []T, error) {
	out, err := d.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.Table), Key: key("app#"+app, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, nil, fmt.Errorf("load %s of %s: %w", what, app, err)
	}
	if out.Item == nil {
		return nil, nil, nil
	}
	var entries []T
	if l := str(out.Item, "ledger"); l != "" {
		if err := json.Unmarshal([]byte(l), &entries); err != nil {
			return nil, nil, fmt.Errorf("load %s of %s: corrupt ledger entries: %w", what, app, err)
		}
	}
	return out.Item, entries, nil
}

// remember caches what the state item carries at c.version; a newer
// version replaces an older one, and what is known copied stays known.
func (d *Dynamo) remember(app string, c carriedEntries) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.carried == nil {
		d.carried = map[string]carriedEntries{}
	}
	old, ok := d.carried[app]
	switch {
	case ok && old.version > c.version:
		return
	case ok && old.version == c.version:
		c.copied = c.copied || old.copied
	}
	d.carried[app] = c
}

func (d *Dynamo) cached(app string) (carriedEntries, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.carried[app]
	return c, ok
}

func (d *Dynamo) Load(ctx context.Context, app string) (release.AppState, error) {
	st := release.AppState{App: app}
	item, _, err := d.getState(ctx, app)
	if err != nil || item == nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(str(item, "body")), &st); err != nil {
		return st, fmt.Errorf("load state of %s: corrupt body: %w", app, err)
	}
	st.Version = num(item, "version")
	return st, nil
}

func (d *Dynamo) Save(ctx context.Context, st *release.AppState, ledger ...release.Release) error {
	next := *st
	next.Version++
	body, err := json.Marshal(next)
	if err != nil {
		return err
	}
	// A save that records no ledger entry (a write-ahead record) carries
	// the entries the item holds, not yet known copied, forward into the
	// new item instead of copying them first: the guard's path to its
	// listener call stays one write long. The next save that records
	// entries copies them (copyCarried).
	carry, carried := d.carryForward(st.App, st.Version, len(ledger))
	var at int64
	if !carried {
		if err := d.copyCarried(ctx, st.App, st.Version); err != nil {
			return err
		}
	}
	item := key("app#"+st.App, stateSortKey)
	item["version"] = n(next.Version)
	item["body"] = s(string(body))
	if carried && len(carry.entries) > 0 {
		ledger, at = carry.entries, carry.recorded()
		item["ledgerVersion"] = n(at)
	}
	if len(ledger) > 0 {
		lb, err := json.Marshal(ledger)
		if err != nil {
			return err
		}
		item["ledger"] = s(string(lb))
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(d.Table), Item: item}
	if st.Version == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		in.ConditionExpression = aws.String("version = :v")
		in.ExpressionAttributeValues = map[string]ddbtypes.AttributeValue{":v": n(st.Version)}
	}
	if _, err := d.DB.PutItem(ctx, in); err != nil {
		if awsapi.IsConditionalCheckFailed(err) {
			return ErrConflict
		}
		return fmt.Errorf("save state of %s: %w", st.App, err)
	}
	st.Version = next.Version
	if carried {
		d.remember(st.App, carriedEntries{version: next.Version, entries: ledger, at: at})
		return nil
	}
	// Committed. A failed copy loses nothing: History reads the entries
	// from the state item, and the next Save copies them first.
	copied := d.copyEntries(ctx, next.Version, ledger) == nil
	d.remember(st.App, carriedEntries{version: next.Version, entries: ledger, copied: copied})
	return nil
}

// carryForward returns the entries a save that records none carries
// forward: those of the item at version, known from this process's last
// read or write of it and not known copied. It reports false when the
// save records entries of its own, or the item is not known here.
func (d *Dynamo) carryForward(app string, version int64, recording int) (carriedEntries, bool) {
	if recording > 0 || version == 0 {
		return carriedEntries{}, false
	}
	c, ok := d.cached(app)
	if !ok || c.version != version {
		return carriedEntries{}, false
	}
	if c.copied {
		return carriedEntries{}, true
	}
	return c, true
}

// copyCarried copies the ledger entries the app's state item carries at
// version into their ledger items, where they are not yet, before a save
// replaces that item. A stored item at another version is a conflict.
func (d *Dynamo) copyCarried(ctx context.Context, app string, version int64) error {
	if version == 0 {
		return nil // a new app: no item, or the put conflicts
	}
	c, ok := d.cached(app)
	if !ok || c.version != version {
		item, entries, err := d.getState(ctx, app)
		if err != nil {
			return err
		}
		if item == nil || num(item, "version") != version {
			return ErrConflict
		}
		c = carriedEntries{version: version, entries: entries, at: num(item, "ledgerVersion")}
	}
	if c.copied {
		return nil
	}
	var missing []release.Release
	for _, r := range c.entries {
		out, err := d.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.Table), Key: key("app#"+r.App, "release#"+r.ID), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return fmt.Errorf("check ledger entry %s: %w", r.ID, err)
		}
		if out.Item == nil || num(out.Item, "version") < c.recorded() {
			missing = append(missing, r)
		}
	}
	if err := d.copyEntries(ctx, c.recorded(), missing); err != nil {
		return err
	}
	c.copied = true
	d.remember(app, c)
	return nil
}

// copyEntries writes ledger items recorded by the state at version; an
// item a newer state wrote is left alone.
func (d *Dynamo) copyEntries(ctx context.Context, version int64, entries []release.Release) error {
	for _, r := range entries {
		rb, err := json.Marshal(r)
		if err != nil {
			return err
		}
		it := key("app#"+r.App, "release#"+r.ID)
		it["body"] = s(string(rb))
		it["state"] = s(string(r.State))
		it["ami"] = s(r.AMI)
		it["version"] = n(version)
		_, err = d.DB.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(d.Table), Item: it,
			ConditionExpression:       aws.String("attribute_not_exists(version) OR version < :v"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": n(version)},
		})
		if err != nil && !awsapi.IsConditionalCheckFailed(err) {
			return fmt.Errorf("write ledger entry %s: %w", r.ID, err)
		}
	}
	return nil
}

func (d *Dynamo) History(ctx context.Context, app string) ([]release.Release, error) {
	// The state item first: an entry it carries is still only there, or
	// was copied (with its version or a newer one) before the item was
	// replaced.
	item, carried, err := d.getState(ctx, app)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", app, err)
	}
	carriedAt := num(item, "version")
	var out []release.Release
	var versions []int64
	at := map[string]int{} // index in out, by release id
	var start map[string]ddbtypes.AttributeValue
	for {
		q, err := d.DB.Query(ctx, &dynamodb.QueryInput{
			TableName:              aws.String(d.Table),
			KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
				":pk": s("app#" + app), ":p": s("release#"),
			},
			ScanIndexForward:  aws.Bool(false),
			ExclusiveStartKey: start,
			ConsistentRead:    aws.Bool(true),
		})
		if err != nil {
			return nil, fmt.Errorf("query history of %s: %w", app, err)
		}
		for _, it := range q.Items {
			var r release.Release
			if err := json.Unmarshal([]byte(str(it, "body")), &r); err != nil {
				return nil, fmt.Errorf("history of %s: corrupt entry %s: %w", app, str(it, "sk"), err)
			}
			at[r.ID] = len(out)
			out = append(out, r)
			versions = append(versions, num(it, "version"))
		}
		if len(q.LastEvaluatedKey) == 0 {
			break
		}
		start = q.LastEvaluatedKey
	}
	for _, r := range carried {
		i, ok := at[r.ID]
		switch {
		case r.App != app:
		case !ok:
			out = append(out, r)
		case versions[i] < carriedAt:
			out[i] = r
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

func (d *Dynamo) Seen(ctx context.Context, id string, now time.Time) (bool, error) {
	out, err := d.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.Table), Key: key("event#"+id, "event")})
	if err != nil {
		return false, fmt.Errorf("check event %s: %w", id, err)
	}
	return out.Item != nil && num(out.Item, "expires") > now.Unix(), nil
}

func (d *Dynamo) MarkSeen(ctx context.Context, id string, expires time.Time) error {
	it := key("event#"+id, "event")
	it["expires"] = n(expires.Unix())
	if _, err := d.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.Table), Item: it}); err != nil {
		return fmt.Errorf("mark event %s: %w", id, err)
	}
	return nil
}

// CreateTable creates kaizen's table (as the CDK stack does) and waits for
// it; tests, `kaizen sim serve` and the emulator tests use it.
func CreateTable(ctx context.Context, db *dynamodb.Client, name string) error {
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange},
		},
		BillingMode: ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 500 * time.Millisecond
	})
	return w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second)
}
