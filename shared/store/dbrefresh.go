package store

// The database refresh's state and ledger, in the same table:
//
//	app#NAME  dbrefresh        the app's refresh state: version, body
//	                           (dbrefresh.AppState as JSON) and, until they
//	                           are copied to their own items, ledger: the
//	                           ledger entries its save recorded
//	app#NAME  dbrefresh#ID     a refresh's ledger entry: body (JSON), state,
//	                           version (the state version that recorded it)
//
// As with releases, a save commits the state and its ledger entries in one
// conditional put of the state item; the entries are then copied to their
// own items and the state item is put again without them. A save never
// replaces a state item that still carries entries (its condition says
// attribute_not_exists(ledger)): it copies them first, so none is lost.

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
)

var (
	_ dbrefresh.Store = (*Dynamo)(nil)
	_ dbrefresh.Store = (*Memory)(nil)
)

const (
	refreshSK     = "dbrefresh"
	refreshPrefix = "dbrefresh#"
)

// LoadRefresh implements dbrefresh.Store.
func (d *Dynamo) LoadRefresh(ctx context.Context, app string) (dbrefresh.AppState, error) {
	st := dbrefresh.AppState{App: app}
	item, _, err := d.refreshItem(ctx, app)
	if err != nil || item == nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(str(item, "body")), &st); err != nil {
		return st, fmt.Errorf("load refresh state of %s: corrupt body: %w", app, err)
	}
	st.Version = num(item, "version")
	return st, nil
}

func (d *Dynamo) refreshItem(ctx context.Context, app string) (map[string]ddbtypes.AttributeValue, []dbrefresh.Refresh, error) {
	return getWithLedger[dbrefresh.Refresh](ctx, d, app, refreshSK, "refresh state")
}

// SaveRefresh implements dbrefresh.Store.
func (d *Dynamo) SaveRefresh(ctx context.Context, st *dbrefresh.AppState, ledger ...dbrefresh.Refresh) error {
	next := *st
	next.Version++
	body, err := json.Marshal(next)
	if err != nil {
		return err
	}
	item := key("app#"+st.App, refreshSK)
	item["version"] = n(next.Version)
	item["body"] = s(string(body))
	if len(ledger) > 0 {
		lb, err := json.Marshal(ledger)
		if err != nil {
			return err
		}
		item["ledger"] = s(string(lb))
	}
	put := func() error {
		in := &dynamodb.PutItemInput{TableName: aws.String(d.Table), Item: item}
		if st.Version == 0 {
			in.ConditionExpression = aws.String("attribute_not_exists(pk)")
		} else {
			in.ConditionExpression = aws.String("version = :v AND attribute_not_exists(ledger)")
			in.ExpressionAttributeValues = map[string]ddbtypes.AttributeValue{":v": n(st.Version)}
		}
		_, err := d.DB.PutItem(ctx, in)
		return err
	}
	err = put()
	if awsapi.IsConditionalCheckFailed(err) && st.Version > 0 {
		// The stored item may still carry its save's entries: copy them
		// and try once more; anything else is another writer's save.
		cur, carried, gerr := d.refreshItem(ctx, st.App)
		if gerr != nil {
			return gerr
		}
		if cur == nil || num(cur, "version") != st.Version || len(carried) == 0 {
			return dbrefresh.ErrConflict
		}
		if err := d.settleRefreshLedger(ctx, cur, carried); err != nil {
			return err
		}
		err = put()
	}
	if awsapi.IsConditionalCheckFailed(err) {
		return dbrefresh.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("save refresh state of %s: %w", st.App, err)
	}
	st.Version = next.Version
	if len(ledger) > 0 {
		// Committed. A failed copy loses nothing: the item keeps the
		// entries, History reads them there, and the next save copies them.
		_ = d.settleRefreshLedger(ctx, item, ledger)
	}
	return nil
}

// settleRefreshLedger copies the entries a state item carries to their own
// items, then puts the item again without them (if it is still that
// version).
func (d *Dynamo) settleRefreshLedger(ctx context.Context, item map[string]ddbtypes.AttributeValue, entries []dbrefresh.Refresh) error {
	version := num(item, "version")
	for _, r := range entries {
		rb, err := json.Marshal(r)
		if err != nil {
			return err
		}
		it := key("app#"+r.App, refreshPrefix+r.ID)
		it["body"] = s(string(rb))
		it["state"] = s(string(r.State))
		it["version"] = n(version)
		_, err = d.DB.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(d.Table), Item: it,
			ConditionExpression:       aws.String("attribute_not_exists(version) OR version < :v"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": n(version)},
		})
		if err != nil && !awsapi.IsConditionalCheckFailed(err) {
			return fmt.Errorf("write refresh ledger entry %s: %w", r.ID, err)
		}
	}
	bare := map[string]ddbtypes.AttributeValue{}
	for k, v := range item {
		if k != "ledger" {
			bare[k] = v
		}
	}
	_, err := d.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.Table), Item: bare,
		ConditionExpression:       aws.String("version = :v"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": n(version)},
	})
	if err != nil && !awsapi.IsConditionalCheckFailed(err) {
		return fmt.Errorf("settle refresh ledger: %w", err)
	}
	return nil
}

// RefreshHistory implements dbrefresh.Store.
func (d *Dynamo) RefreshHistory(ctx context.Context, app string) ([]dbrefresh.Refresh, error) {
	item, carried, err := d.refreshItem(ctx, app)
	if err != nil {
		return nil, err
	}
	byID := map[string]dbrefresh.Refresh{}
	var start map[string]ddbtypes.AttributeValue
	for {
		q, err := d.DB.Query(ctx, &dynamodb.QueryInput{
			TableName:              aws.String(d.Table),
			KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
				":pk": s("app#" + app), ":p": s(refreshPrefix),
			},
			ExclusiveStartKey: start,
			ConsistentRead:    aws.Bool(true),
		})
		if err != nil {
			return nil, fmt.Errorf("query refresh history of %s: %w", app, err)
		}
		for _, it := range q.Items {
			var r dbrefresh.Refresh
			if err := json.Unmarshal([]byte(str(it, "body")), &r); err != nil {
				return nil, fmt.Errorf("refresh history of %s: corrupt entry %s: %w", app, str(it, "sk"), err)
			}
			byID[r.ID] = r
		}
		if len(q.LastEvaluatedKey) == 0 {
			break
		}
		start = q.LastEvaluatedKey
	}
	// The state item is newer than any copy: its carried entries and its
	// refresh in flight win.
	for _, r := range carried {
		if r.App == app {
			byID[r.ID] = r
		}
	}
	if item != nil {
		var st dbrefresh.AppState
		if err := json.Unmarshal([]byte(str(item, "body")), &st); err == nil && st.Active != nil {
			byID[st.Active.ID] = *st.Active
		}
	}
	return sortRefreshes(byID), nil
}

func sortRefreshes(byID map[string]dbrefresh.Refresh) []dbrefresh.Refresh {
	out := make([]dbrefresh.Refresh, 0, len(byID))
	for _, r := range byID {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out
}

// refreshMemory is the memory store's share for the database refresh.
type refreshMemory struct {
	states map[string][]byte
	ledger map[string]map[string][]byte
}

func (m *Memory) refreshes() *refreshMemory {
	if m.refresh == nil {
		m.refresh = &refreshMemory{states: map[string][]byte{}, ledger: map[string]map[string][]byte{}}
	}
	return m.refresh
}

// LoadRefresh implements dbrefresh.Store.
func (m *Memory) LoadRefresh(_ context.Context, app string) (dbrefresh.AppState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := dbrefresh.AppState{App: app}
	if b, ok := m.refreshes().states[app]; ok {
		if err := json.Unmarshal(b, &st); err != nil {
			return st, err
		}
	}
	return st, nil
}

// SaveRefresh implements dbrefresh.Store.
func (m *Memory) SaveRefresh(_ context.Context, st *dbrefresh.AppState, ledger ...dbrefresh.Refresh) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rm := m.refreshes()
	var cur int64
	if b, ok := rm.states[st.App]; ok {
		var old dbrefresh.AppState
		if err := json.Unmarshal(b, &old); err != nil {
			return err
		}
		cur = old.Version
	}
	if cur != st.Version {
		return dbrefresh.ErrConflict
	}
	next := *st
	next.Version++
	entries := make([]entry, len(ledger))
	for i, r := range ledger {
		entries[i] = entry{app: r.App, id: r.ID, v: r}
	}
	if err := m.commit(rm.states, rm.ledger, st.App, next, entries); err != nil {
		return err
	}
	st.Version = next.Version
	return nil
}

// RefreshHistory implements dbrefresh.Store.
func (m *Memory) RefreshHistory(_ context.Context, app string) ([]dbrefresh.Refresh, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rm := m.refreshes()
	byID := map[string]dbrefresh.Refresh{}
	for _, b := range rm.ledger[app] {
		var r dbrefresh.Refresh
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, err
		}
		byID[r.ID] = r
	}
	if b, ok := rm.states[app]; ok {
		var st dbrefresh.AppState
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, err
		}
		if st.Active != nil {
			byID[st.Active.ID] = *st.Active
		}
	}
	return sortRefreshes(byID), nil
}
