package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kaizen-sre/kaizen/shared/release"
)

// BatchLoader loads many apps' states at once: a tick reads the store
// once, not once per app. Both stores implement it; a Store that does not
// (a test's wrapper) is read app by app (LoadMany).
type BatchLoader interface {
	// LoadAll returns the state of every named app, as Load would (a new
	// app at Version 0), keyed by name.
	LoadAll(ctx context.Context, apps []string) (map[string]release.AppState, error)
}

// LoadMany loads the apps' states with one batch if s can, else app by
// app.
func LoadMany(ctx context.Context, s Store, apps []string) (map[string]release.AppState, error) {
	if b, ok := s.(BatchLoader); ok {
		return b.LoadAll(ctx, apps)
	}
	out := make(map[string]release.AppState, len(apps))
	for _, a := range apps {
		st, err := s.Load(ctx, a)
		if err != nil {
			return nil, err
		}
		out[a] = st
	}
	return out, nil
}

var (
	_ BatchLoader = (*Memory)(nil)
	_ BatchLoader = (*Dynamo)(nil)
)

// LoadAll implements BatchLoader.
func (m *Memory) LoadAll(ctx context.Context, apps []string) (map[string]release.AppState, error) {
	out := make(map[string]release.AppState, len(apps))
	for _, a := range apps {
		st, err := m.Load(ctx, a)
		if err != nil {
			return nil, err
		}
		out[a] = st
	}
	return out, nil
}

// BatchGetKeys is BatchGetItem's most keys per call (DynamoDB API
// reference: "up to 100 items", 16 MB).
const BatchGetKeys = 100

// LoadAll implements BatchLoader with BatchGetItem, BatchGetKeys state
// items per call, the calls in parallel, strongly consistent as Load is.
// Keys DynamoDB leaves unprocessed (throttling, the 16 MB limit) are asked
// for again, after a short wait that doubles each time.
func (d *Dynamo) LoadAll(ctx context.Context, apps []string) (map[string]release.AppState, error) {
	out := make(map[string]release.AppState, len(apps))
	var uniq []string
	for _, a := range apps {
		if _, ok := out[a]; !ok {
			out[a] = release.AppState{App: a}
			uniq = append(uniq, a)
		}
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for start := 0; start < len(uniq); start += BatchGetKeys {
		chunk := uniq[start:min(start+BatchGetKeys, len(uniq))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			items, err := d.batchGet(ctx, chunk)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			for _, item := range items {
				if err := d.decodeState(item, out); err != nil {
					errs = append(errs, err)
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// batchGet reads the state items of at most BatchGetKeys apps.
func (d *Dynamo) batchGet(ctx context.Context, apps []string) ([]map[string]ddbtypes.AttributeValue, error) {
	keys := make([]map[string]ddbtypes.AttributeValue, 0, len(apps))
	for _, a := range apps {
		keys = append(keys, key("app#"+a, stateSortKey))
	}
	req := map[string]ddbtypes.KeysAndAttributes{d.Table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	var items []map[string]ddbtypes.AttributeValue
	wait := 50 * time.Millisecond
	for len(req[d.Table].Keys) > 0 {
		res, err := d.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, fmt.Errorf("load states: %w", err)
		}
		items = append(items, res.Responses[d.Table]...)
		req = res.UnprocessedKeys
		if len(req[d.Table].Keys) > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			wait = min(2*wait, 2*time.Second)
		}
	}
	return items, nil
}

// decodeState reads one state item into out, as Load does, and
// remembers what ledger entries it carries.
func (d *Dynamo) decodeState(item map[string]ddbtypes.AttributeValue, out map[string]release.AppState) error {
	pk := str(item, "pk")
	if len(pk) < 4 || pk[:4] != "app#" {
		return fmt.Errorf("load states: unexpected item %q", pk)
	}
	app := pk[4:]
	st := release.AppState{App: app}
	if err := json.Unmarshal([]byte(str(item, "body")), &st); err != nil {
		return fmt.Errorf("load state of %s: corrupt body: %w", app, err)
	}
	st.Version = num(item, "version")
	var entries []release.Release
	if l := str(item, "ledger"); l != "" {
		if err := json.Unmarshal([]byte(l), &entries); err != nil {
			return fmt.Errorf("load state of %s: corrupt ledger entries: %w", app, err)
		}
	}
	d.remember(app, carriedEntries{version: st.Version, entries: entries, at: num(item, "ledgerVersion")})
	out[app] = st
	return nil
}
