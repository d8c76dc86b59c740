package access_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kaizen-sre/kaizen/shared/access"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh/awscloud"
	"github.com/kaizen-sre/kaizen/shared/rdsapi"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// dbrefresh's RDS actions are rdsapi.API's methods, spelled out in access
// (which must not import rdsapi: it would link RDS into every function);
// its CodeBuild and Secrets Manager actions are awscloud's narrow clients'.
func TestDBRefreshActionsAreItsInterfaces(t *testing.T) {
	acts := access.Actions(route.DBRefresh)
	var want []string
	for _, typ := range []reflect.Type{reflect.TypeFor[rdsapi.API](), reflect.TypeFor[awscloud.ScrubAPI](), reflect.TypeFor[awscloud.SecretsAPI]()} {
		service := map[string]string{"API": "rds", "ScrubAPI": "codebuild", "SecretsAPI": "secretsmanager"}[typ.Name()]
		for i := range typ.NumMethod() {
			want = append(want, service+":"+typ.Method(i).Name)
		}
	}
	for _, a := range want {
		if !slices.Contains(acts, a) {
			t.Errorf("dbrefresh calls %s, which shared/access does not give it", a)
		}
	}
	var ops []string
	for _, a := range acts {
		if op, ok := strings.CutPrefix(a, "rds:"); ok && op != "AddTagsToResource" {
			ops = append(ops, op)
		}
	}
	if slices.Sort(ops); !slices.Equal(ops, sortedCopy(rdsapi.Operations)) {
		t.Errorf("access lists RDS operations %v, rdsapi.Operations %v", ops, rdsapi.Operations)
	}
	if n := reflect.TypeFor[rdsapi.API]().NumMethod(); n != len(rdsapi.Operations) {
		t.Errorf("rdsapi.API has %d methods, Operations lists %d", n, len(rdsapi.Operations))
	}
	// It applies no release plan.
	if k := access.Kinds(route.DBRefresh); len(k) != 1 || !access.Allowed(route.DBRefresh, "notify") {
		t.Errorf("dbrefresh kinds %v", k)
	}
}

func sortedCopy(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return out
}
