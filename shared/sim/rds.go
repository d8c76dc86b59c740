package sim

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/rdsapi"
)

// RDS operations (registered in ops by init below, so that this file is
// the simulated RDS's only home).
const (
	OpDescribeDBInstances             Op = "DescribeDBInstances"
	OpDescribeDBClusters              Op = "DescribeDBClusters"
	OpDescribeDBSnapshots             Op = "DescribeDBSnapshots"
	OpDescribeDBClusterSnapshots      Op = "DescribeDBClusterSnapshots"
	OpCopyDBSnapshot                  Op = "CopyDBSnapshot"
	OpCopyDBClusterSnapshot           Op = "CopyDBClusterSnapshot"
	OpRestoreDBInstanceFromDBSnapshot Op = "RestoreDBInstanceFromDBSnapshot"
	OpRestoreDBClusterFromSnapshot    Op = "RestoreDBClusterFromSnapshot"
	OpCreateDBInstance                Op = "CreateDBInstance"
	OpModifyDBInstance                Op = "ModifyDBInstance"
	OpModifyDBCluster                 Op = "ModifyDBCluster"
	OpDeleteDBInstance                Op = "DeleteDBInstance"
	OpDeleteDBCluster                 Op = "DeleteDBCluster"
	OpDeleteDBSnapshot                Op = "DeleteDBSnapshot"
	OpDeleteDBClusterSnapshot         Op = "DeleteDBClusterSnapshot"
)

func init() {
	for _, op := range []Op{OpDescribeDBInstances, OpDescribeDBClusters, OpDescribeDBSnapshots, OpDescribeDBClusterSnapshots} {
		ops[op] = opInfo{"rds", false}
	}
	for _, op := range []Op{OpCopyDBSnapshot, OpCopyDBClusterSnapshot, OpRestoreDBInstanceFromDBSnapshot, OpRestoreDBClusterFromSnapshot,
		OpCreateDBInstance, OpModifyDBInstance, OpModifyDBCluster, OpDeleteDBInstance, OpDeleteDBCluster, OpDeleteDBSnapshot, OpDeleteDBClusterSnapshot} {
		ops[op] = opInfo{"rds", true}
	}
}

var _ rdsapi.API = (*RDS)(nil)

// RDSDelays are how long RDS's slow operations take on the virtual clock.
type RDSDelays struct {
	Copy, Restore, Create, Rename, Delete time.Duration
}

// DefaultRDSDelays are the delays of a new cloud: the order of magnitude of
// a small database's, so a refresh spans an hour of virtual time.
var DefaultRDSDelays = RDSDelays{Copy: 10 * time.Minute, Restore: 20 * time.Minute, Create: 10 * time.Minute, Rename: 2 * time.Minute, Delete: 5 * time.Minute}

// db is a DB instance or an Aurora cluster.
type db struct {
	id, resource, engine, class, subnetGroup, paramGroup, cluster string
	isCluster                                                     bool
	sgs                                                           []string
	status                                                        string
	until                                                         time.Time // when a transient status ends (available, or gone when deleting)
	created                                                       time.Time
	tags                                                          map[string]string
	snapshot                                                      string // restored from
	deletionProtection                                            bool
}

type dbSnapshot struct {
	id, arn, source, typ, owner, engine, kms string
	isCluster, encrypted                     bool
	status                                   string
	until                                    time.Time
	created                                  time.Time
	tags                                     map[string]string
}

type rdsState struct {
	delays    RDSDelays
	instances map[string]*db
	clusters  map[string]*db
	snapshots []*dbSnapshot
	subnets   map[string]bool
	// restoreFails names databases whose restore ends in this status.
	restoreFails map[string]string
	// secrets are Secrets Manager's secrets by name (secrets.go).
	secrets map[string]string
}

func (c *Cloud) rdsState() *rdsState {
	if c.rds == nil {
		c.rds = &rdsState{delays: DefaultRDSDelays, instances: map[string]*db{}, clusters: map[string]*db{}, subnets: map[string]bool{}, restoreFails: map[string]string{}}
	}
	return c.rds
}

// SetRDSDelays sets how long RDS's slow operations take.
func (c *Cloud) SetRDSDelays(d RDSDelays) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rdsState().delays = d
}

// settle ends the transient statuses whose time has come. Every RDS
// operation and view calls it first: RDS's progress is a function of the
// virtual clock.
func (s *rdsState) settle(now time.Time) {
	for _, m := range []map[string]*db{s.instances, s.clusters} {
		for id, d := range m {
			if d.until.IsZero() || now.Before(d.until) {
				continue
			}
			switch d.status {
			case "deleting":
				delete(m, id)
			case "creating":
				d.status = "available"
				if f, ok := s.restoreFails[d.id]; ok {
					d.status = f
				}
			default:
				d.status = "available"
			}
			d.until = time.Time{}
		}
	}
	s.snapshots = slices.DeleteFunc(s.snapshots, func(sn *dbSnapshot) bool {
		return sn.status == "deleting" && !now.Before(sn.until)
	})
	for _, sn := range s.snapshots {
		if sn.status == "creating" && !now.Before(sn.until) {
			sn.status, sn.until = "available", time.Time{}
		}
	}
}

// RDS is the simulated RDS API.
type RDS struct{ c *Cloud }

// RDS returns the RDS client of the cloud.
func (c *Cloud) RDS() *RDS { return &RDS{c} }

func (c *Cloud) rdsARN(kind, id string) string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:%s:%s", c.Region, c.Account, kind, id)
}

func (c *Cloud) endpoint(id string) string {
	return id + ".c9akciq32.rc." + c.Region + ".rds.amazonaws.com"
}

// ---- seeding and views for tests ----

// AddDBSubnetGroup creates a DB subnet group.
func (c *Cloud) AddDBSubnetGroup(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rdsState().subnets[name] = true
}

// AddDBInstance creates an available DB instance.
func (c *Cloud) AddDBInstance(id, engine string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.rdsState()
	s.instances[id] = &db{id: id, resource: "db-" + strings.ToUpper(c.id("res")[4:]), engine: engine, class: "db.r6g.large",
		status: "available", created: c.now.Add(-30 * 24 * time.Hour), tags: map[string]string{}}
}

// AddDBCluster creates an available Aurora cluster with its writer
// instance "<id>-1".
func (c *Cloud) AddDBCluster(id, engine string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.rdsState()
	s.clusters[id] = &db{id: id, resource: "cluster-" + strings.ToUpper(c.id("res")[4:]), engine: engine, isCluster: true,
		status: "available", created: c.now.Add(-30 * 24 * time.Hour), tags: map[string]string{}}
	w := id + "-1"
	s.instances[w] = &db{id: w, resource: "db-" + strings.ToUpper(c.id("res")[4:]), engine: engine, class: "db.r6g.large", cluster: id,
		status: "available", created: c.now.Add(-30 * 24 * time.Hour), tags: map[string]string{}}
}

// TakeAutomatedSnapshot takes source's automated snapshot now, as RDS does
// in its backup window, owned by owner (the simulated account if ""; another
// account's is shared with this one, as a manual snapshot its owner shares).
// It returns the snapshot's identifier ("rds:SOURCE-YYYY-MM-DD-HH-MM"; a
// shared one is named by its ARN).
func (c *Cloud) TakeAutomatedSnapshot(source string, cluster bool, owner string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.rdsState()
	kind, engine := "snapshot", "postgres"
	if cluster {
		kind, engine = "cluster-snapshot", "aurora-postgresql"
		if d := s.clusters[source]; d != nil {
			engine = d.engine
		}
	} else if d := s.instances[source]; d != nil {
		engine = d.engine
	}
	id := fmt.Sprintf("rds:%s-%s", source, c.now.UTC().Format("2006-01-02-15-04"))
	typ := "automated"
	if owner == "" {
		owner = c.Account
	}
	if owner != c.Account {
		// Another account's automated snapshot cannot be shared: its
		// owner shares a manual copy, named after it.
		id, typ = strings.TrimPrefix(strings.ReplaceAll(id, ":", "-"), "rds-"), "shared"
	}
	arn := fmt.Sprintf("arn:aws:rds:%s:%s:%s:%s", c.Region, owner, kind, id)
	s.snapshots = append(s.snapshots, &dbSnapshot{id: id, arn: arn, source: source, typ: typ, owner: owner, engine: engine, isCluster: cluster,
		encrypted: true, kms: fmt.Sprintf("arn:aws:kms:%s:%s:key/00000000-0000-4000-8000-000000000001", c.Region, owner),
		status: "available", created: c.now, tags: map[string]string{}})
	if typ == "shared" {
		return arn
	}
	return id
}

// FailRestoreOf makes the restore of the named database end in status
// (such as "incompatible-parameters") instead of available.
func (c *Cloud) FailRestoreOf(id, status string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rdsState().restoreFails[id] = status
}

// DBView is a database as tests see it.
type DBView struct {
	ID, Resource, Status, Engine, Cluster, Snapshot string
	IsCluster                                       bool
	Tags                                            map[string]string
}

// Databases lists the DB instances and clusters, by identifier.
func (c *Cloud) Databases() []DBView {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.rdsState()
	s.settle(c.now)
	var out []DBView
	for _, m := range []map[string]*db{s.instances, s.clusters} {
		for _, d := range m {
			out = append(out, DBView{ID: d.id, Resource: d.resource, Status: d.status, Engine: d.engine, Cluster: d.cluster,
				Snapshot: d.snapshot, IsCluster: d.isCluster, Tags: copyTags(d.tags)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// DBSnapshotView is a DB (cluster) snapshot as tests see it.
type DBSnapshotView struct {
	ID, ARN, Source, Type, Owner, Status string
	IsCluster                            bool
}

// DBSnapshots lists the DB and DB cluster snapshots.
func (c *Cloud) DBSnapshots() []DBSnapshotView {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.rdsState()
	s.settle(c.now)
	var out []DBSnapshotView
	for _, sn := range s.snapshots {
		out = append(out, DBSnapshotView{ID: sn.id, ARN: sn.arn, Source: sn.source, Type: sn.typ, Owner: sn.owner, Status: sn.status, IsCluster: sn.isCluster})
	}
	return out
}

func copyTags(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// SeedDBRefresh builds what an app's dbRefresh block names: production's
// database (in its own account when the source is another account's: only
// its snapshots are visible here) with a snapshot taken a day ago, staging's
// database at the target, the subnet group and the scrub project. An app
// without the block is left alone.
func (c *Cloud) SeedDBRefresh(f *config.File, app *config.App) {
	d := app.DBRefresh
	if d == nil {
		return
	}
	engine := "postgres"
	if d.Source.Cluster() {
		engine = "aurora-postgresql"
	}
	cross := d.CrossAccount(f)
	if !cross {
		if d.Source.Cluster() {
			c.AddDBCluster(d.Source.ID(), engine)
		} else {
			c.AddDBInstance(d.Source.ID(), engine)
		}
	}
	owner := ""
	if cross {
		owner = d.Source.Account
	}
	c.mu.Lock()
	now := c.now
	c.now = now.Add(-24 * time.Hour)
	c.mu.Unlock()
	c.TakeAutomatedSnapshot(d.Source.ID(), d.Source.Cluster(), owner)
	c.mu.Lock()
	c.now = now
	c.mu.Unlock()
	if d.Source.Cluster() {
		c.AddDBCluster(d.Target, engine)
	} else {
		c.AddDBInstance(d.Target, engine)
	}
	c.AddDBSubnetGroup(d.SubnetGroup)
	c.AddProject(d.Scrub.CodeBuildProject)
	if d.Secret != "" {
		c.AddSecret(d.Secret, fmt.Sprintf(`{"host":%q,"port":5432,"username":"app","password":"staging-only"}`, c.endpoint(d.Target)))
	}
}

// ---- errors, as RDS names them ----

func rdsErr(code, format string, args ...any) error {
	return APIError(code, fmt.Sprintf(format, args...), smithy.FaultClient)
}

func instanceNotFound(id string) error {
	return rdsErr("DBInstanceNotFound", "DBInstance %s not found.", id)
}

func clusterNotFound(id string) error {
	return rdsErr("DBClusterNotFoundFault", "DBCluster %s not found.", id)
}

// validIdentifier is RDS's rule for a new identifier: 1 to 63 letters,
// digits or hyphens, a letter first, no two hyphens in a row, no hyphen
// last. RDS keeps identifiers in lower case.
func validIdentifier(id string) bool {
	if id == "" || len(id) > 63 || !(id[0] >= 'a' && id[0] <= 'z' || id[0] >= 'A' && id[0] <= 'Z') || strings.HasSuffix(id, "-") || strings.Contains(id, "--") {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// ---- describe ----

func filterValues(fs []rdstypes.Filter, name string) ([]string, bool) {
	for _, f := range fs {
		if aws.ToString(f.Name) == name {
			return f.Values, true
		}
	}
	return nil, false
}

func (c *Cloud) instanceSDK(d *db) rdstypes.DBInstance {
	out := rdstypes.DBInstance{
		DBInstanceIdentifier: aws.String(d.id), DbiResourceId: aws.String(d.resource), DBInstanceStatus: aws.String(d.status),
		DBInstanceArn: aws.String(c.rdsARN("db", d.id)), Engine: aws.String(d.engine), DBInstanceClass: aws.String(d.class),
		InstanceCreateTime: aws.Time(d.created),
	}
	if d.cluster != "" {
		out.DBClusterIdentifier = aws.String(d.cluster)
	}
	if d.status != "creating" {
		out.Endpoint = &rdstypes.Endpoint{Address: aws.String(c.endpoint(d.id)), Port: aws.Int32(5432)}
	}
	if d.subnetGroup != "" {
		out.DBSubnetGroup = &rdstypes.DBSubnetGroup{DBSubnetGroupName: aws.String(d.subnetGroup)}
	}
	for _, sg := range d.sgs {
		out.VpcSecurityGroups = append(out.VpcSecurityGroups, rdstypes.VpcSecurityGroupMembership{VpcSecurityGroupId: aws.String(sg), Status: aws.String("active")})
	}
	for _, k := range sortedTagKeys(d.tags) {
		out.TagList = append(out.TagList, rdstypes.Tag{Key: aws.String(k), Value: aws.String(d.tags[k])})
	}
	return out
}

func sortedTagKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (r *RDS) DescribeDBInstances(ctx context.Context, in *rds.DescribeDBInstancesInput, _ ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error) {
	return serve(r.c, ctx, OpDescribeDBInstances, in, r.describeInstances)
}

func (r *RDS) describeInstances(in *rds.DescribeDBInstancesInput) (*rds.DescribeDBInstancesOutput, error) {
	c := r.c
	s := c.rdsState()
	s.settle(c.now)
	if id := aws.ToString(in.DBInstanceIdentifier); id != "" {
		d := s.instances[strings.ToLower(id)]
		if d == nil {
			return nil, instanceNotFound(id)
		}
		return &rds.DescribeDBInstancesOutput{DBInstances: []rdstypes.DBInstance{c.instanceSDK(d)}}, nil
	}
	ids, byID := filterValues(in.Filters, "db-instance-id")
	clusters, byCluster := filterValues(in.Filters, "db-cluster-id")
	out := &rds.DescribeDBInstancesOutput{}
	for _, id := range sortedDBKeys(s.instances) {
		d := s.instances[id]
		if byID && !slices.Contains(ids, d.id) || byCluster && !slices.Contains(clusters, d.cluster) {
			continue
		}
		out.DBInstances = append(out.DBInstances, c.instanceSDK(d))
	}
	return out, nil
}

func sortedDBKeys(m map[string]*db) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (c *Cloud) clusterSDK(d *db) rdstypes.DBCluster {
	s := c.rdsState()
	out := rdstypes.DBCluster{
		DBClusterIdentifier: aws.String(d.id), DbClusterResourceId: aws.String(d.resource), Status: aws.String(d.status),
		DBClusterArn: aws.String(c.rdsARN("cluster", d.id)), Engine: aws.String(d.engine), ClusterCreateTime: aws.Time(d.created),
		Endpoint: aws.String(strings.Replace(c.endpoint(d.id), ".c9akciq32.", ".cluster-c9akciq32.", 1)), Port: aws.Int32(5432),
	}
	if d.subnetGroup != "" {
		out.DBSubnetGroup = aws.String(d.subnetGroup)
	}
	for _, id := range sortedDBKeys(s.instances) {
		if m := s.instances[id]; m.cluster == d.id {
			out.DBClusterMembers = append(out.DBClusterMembers, rdstypes.DBClusterMember{DBInstanceIdentifier: aws.String(m.id), IsClusterWriter: aws.Bool(true)})
		}
	}
	for _, k := range sortedTagKeys(d.tags) {
		out.TagList = append(out.TagList, rdstypes.Tag{Key: aws.String(k), Value: aws.String(d.tags[k])})
	}
	return out
}

func (r *RDS) DescribeDBClusters(ctx context.Context, in *rds.DescribeDBClustersInput, _ ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error) {
	return serve(r.c, ctx, OpDescribeDBClusters, in, r.describeClusters)
}

func (r *RDS) describeClusters(in *rds.DescribeDBClustersInput) (*rds.DescribeDBClustersOutput, error) {
	c := r.c
	s := c.rdsState()
	s.settle(c.now)
	if id := aws.ToString(in.DBClusterIdentifier); id != "" {
		d := s.clusters[strings.ToLower(id)]
		if d == nil {
			return nil, clusterNotFound(id)
		}
		return &rds.DescribeDBClustersOutput{DBClusters: []rdstypes.DBCluster{c.clusterSDK(d)}}, nil
	}
	ids, byID := filterValues(in.Filters, "db-cluster-id")
	out := &rds.DescribeDBClustersOutput{}
	for _, id := range sortedDBKeys(s.clusters) {
		if byID && !slices.Contains(ids, id) {
			continue
		}
		out.DBClusters = append(out.DBClusters, c.clusterSDK(s.clusters[id]))
	}
	return out, nil
}

// visible reports whether this account sees the snapshot of a describe
// with the given type and IncludeShared: its own of that type (automated
// and manual if none), and others' shared with it when asked for.
func (c *Cloud) visible(sn *dbSnapshot, typ string, includeShared bool) bool {
	if sn.owner != c.Account {
		return typ == "shared" || typ == "" && includeShared
	}
	return typ == "" || typ == sn.typ
}

// findSnapshot finds a snapshot by identifier (this account's) or ARN
// (this account's, or another's shared with it).
func (s *rdsState) findSnapshot(c *Cloud, ref string, cluster bool) *dbSnapshot {
	for _, sn := range s.snapshots {
		if sn.isCluster != cluster {
			continue
		}
		if sn.arn == ref || sn.owner == c.Account && sn.id == ref {
			return sn
		}
	}
	return nil
}

func (c *Cloud) snapshotSDK(sn *dbSnapshot) rdstypes.DBSnapshot {
	out := rdstypes.DBSnapshot{
		DBSnapshotIdentifier: aws.String(sn.id), DBSnapshotArn: aws.String(sn.arn), DBInstanceIdentifier: aws.String(sn.source),
		SnapshotType: aws.String(sn.typ), Status: aws.String(sn.status), Engine: aws.String(sn.engine), Encrypted: aws.Bool(sn.encrypted),
		SnapshotCreateTime: aws.Time(sn.created),
	}
	if sn.kms != "" {
		out.KmsKeyId = aws.String(sn.kms)
	}
	return out
}

func (c *Cloud) clusterSnapshotSDK(sn *dbSnapshot) rdstypes.DBClusterSnapshot {
	out := rdstypes.DBClusterSnapshot{
		DBClusterSnapshotIdentifier: aws.String(sn.id), DBClusterSnapshotArn: aws.String(sn.arn), DBClusterIdentifier: aws.String(sn.source),
		SnapshotType: aws.String(sn.typ), Status: aws.String(sn.status), Engine: aws.String(sn.engine), StorageEncrypted: aws.Bool(sn.encrypted),
		SnapshotCreateTime: aws.Time(sn.created),
	}
	if sn.kms != "" {
		out.KmsKeyId = aws.String(sn.kms)
	}
	return out
}

func (r *RDS) DescribeDBSnapshots(ctx context.Context, in *rds.DescribeDBSnapshotsInput, _ ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error) {
	return serve(r.c, ctx, OpDescribeDBSnapshots, in, func(in *rds.DescribeDBSnapshotsInput) (*rds.DescribeDBSnapshotsOutput, error) {
		c := r.c
		s := c.rdsState()
		s.settle(c.now)
		out := &rds.DescribeDBSnapshotsOutput{}
		if id := aws.ToString(in.DBSnapshotIdentifier); id != "" {
			sn := s.findSnapshot(c, id, false)
			if sn == nil {
				return nil, rdsErr("DBSnapshotNotFound", "DBSnapshot %s not found.", id)
			}
			out.DBSnapshots = []rdstypes.DBSnapshot{c.snapshotSDK(sn)}
			return out, nil
		}
		ids, byID := filterValues(in.Filters, "db-snapshot-id")
		for _, sn := range s.snapshots {
			if sn.isCluster || !c.visible(sn, aws.ToString(in.SnapshotType), aws.ToBool(in.IncludeShared)) || byID && !slices.Contains(ids, sn.id) {
				continue
			}
			if src := aws.ToString(in.DBInstanceIdentifier); src != "" && sn.source != src {
				continue
			}
			out.DBSnapshots = append(out.DBSnapshots, c.snapshotSDK(sn))
		}
		return out, nil
	})
}

func (r *RDS) DescribeDBClusterSnapshots(ctx context.Context, in *rds.DescribeDBClusterSnapshotsInput, _ ...func(*rds.Options)) (*rds.DescribeDBClusterSnapshotsOutput, error) {
	return serve(r.c, ctx, OpDescribeDBClusterSnapshots, in, func(in *rds.DescribeDBClusterSnapshotsInput) (*rds.DescribeDBClusterSnapshotsOutput, error) {
		c := r.c
		s := c.rdsState()
		s.settle(c.now)
		out := &rds.DescribeDBClusterSnapshotsOutput{}
		if id := aws.ToString(in.DBClusterSnapshotIdentifier); id != "" {
			sn := s.findSnapshot(c, id, true)
			if sn == nil {
				return nil, rdsErr("DBClusterSnapshotNotFoundFault", "DBClusterSnapshot %s not found.", id)
			}
			out.DBClusterSnapshots = []rdstypes.DBClusterSnapshot{c.clusterSnapshotSDK(sn)}
			return out, nil
		}
		ids, byID := filterValues(in.Filters, "db-cluster-snapshot-id")
		for _, sn := range s.snapshots {
			if !sn.isCluster || !c.visible(sn, aws.ToString(in.SnapshotType), aws.ToBool(in.IncludeShared)) || byID && !slices.Contains(ids, sn.id) {
				continue
			}
			if src := aws.ToString(in.DBClusterIdentifier); src != "" && sn.source != src {
				continue
			}
			out.DBClusterSnapshots = append(out.DBClusterSnapshots, c.clusterSnapshotSDK(sn))
		}
		return out, nil
	})
}

// ---- copy ----

func tagMap(ts []rdstypes.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range ts {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func (c *Cloud) copySnapshot(src, target, kms string, tags []rdstypes.Tag, cluster bool) error {
	s := c.rdsState()
	s.settle(c.now)
	nf := "DBSnapshotNotFound"
	exists := "DBSnapshotAlreadyExists"
	if cluster {
		nf, exists = "DBClusterSnapshotNotFoundFault", "DBClusterSnapshotAlreadyExistsFault"
	}
	sn := s.findSnapshot(c, src, cluster)
	if sn == nil {
		return rdsErr(nf, "Snapshot %s not found.", src)
	}
	if sn.status != "available" {
		return rdsErr("InvalidDBSnapshotState", "Snapshot %s is not in available state.", src)
	}
	if !validIdentifier(target) {
		return rdsErr("InvalidParameterValue", "The parameter TargetDBSnapshotIdentifier is not a valid identifier: %s", target)
	}
	target = strings.ToLower(target)
	if s.findSnapshot(c, target, cluster) != nil {
		return rdsErr(exists, "Cannot create the snapshot because a snapshot with the identifier %s already exists.", target)
	}
	if sn.owner != c.Account && sn.encrypted && kms == "" {
		// A snapshot shared by another account is encrypted with its key:
		// the copy must name one of this account's.
		return rdsErr("InvalidParameterValue", "KmsKeyId is required to copy encrypted snapshot %s shared from another account.", src)
	}
	kind := "snapshot"
	if cluster {
		kind = "cluster-snapshot"
	}
	cp := &dbSnapshot{id: target, arn: c.rdsARN(kind, target), source: sn.source, typ: "manual", owner: c.Account, engine: sn.engine,
		isCluster: cluster, encrypted: sn.encrypted || kms != "", kms: first(kms, sn.kms), status: "creating",
		until: c.now.Add(s.delays.Copy), created: c.now, tags: tagMap(tags)}
	s.snapshots = append(s.snapshots, cp)
	return nil
}

func first(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}

func (r *RDS) CopyDBSnapshot(ctx context.Context, in *rds.CopyDBSnapshotInput, _ ...func(*rds.Options)) (*rds.CopyDBSnapshotOutput, error) {
	return serve(r.c, ctx, OpCopyDBSnapshot, in, func(in *rds.CopyDBSnapshotInput) (*rds.CopyDBSnapshotOutput, error) {
		c := r.c
		if err := c.copySnapshot(aws.ToString(in.SourceDBSnapshotIdentifier), aws.ToString(in.TargetDBSnapshotIdentifier), aws.ToString(in.KmsKeyId), in.Tags, false); err != nil {
			return nil, err
		}
		sn := c.rdsState().findSnapshot(c, strings.ToLower(aws.ToString(in.TargetDBSnapshotIdentifier)), false)
		out := c.snapshotSDK(sn)
		return &rds.CopyDBSnapshotOutput{DBSnapshot: &out}, nil
	})
}

func (r *RDS) CopyDBClusterSnapshot(ctx context.Context, in *rds.CopyDBClusterSnapshotInput, _ ...func(*rds.Options)) (*rds.CopyDBClusterSnapshotOutput, error) {
	return serve(r.c, ctx, OpCopyDBClusterSnapshot, in, func(in *rds.CopyDBClusterSnapshotInput) (*rds.CopyDBClusterSnapshotOutput, error) {
		c := r.c
		if err := c.copySnapshot(aws.ToString(in.SourceDBClusterSnapshotIdentifier), aws.ToString(in.TargetDBClusterSnapshotIdentifier), aws.ToString(in.KmsKeyId), in.Tags, true); err != nil {
			return nil, err
		}
		sn := c.rdsState().findSnapshot(c, strings.ToLower(aws.ToString(in.TargetDBClusterSnapshotIdentifier)), true)
		out := c.clusterSnapshotSDK(sn)
		return &rds.CopyDBClusterSnapshotOutput{DBClusterSnapshot: &out}, nil
	})
}

// ---- restore and create ----

func (r *RDS) RestoreDBInstanceFromDBSnapshot(ctx context.Context, in *rds.RestoreDBInstanceFromDBSnapshotInput, _ ...func(*rds.Options)) (*rds.RestoreDBInstanceFromDBSnapshotOutput, error) {
	return serve(r.c, ctx, OpRestoreDBInstanceFromDBSnapshot, in, func(in *rds.RestoreDBInstanceFromDBSnapshotInput) (*rds.RestoreDBInstanceFromDBSnapshotOutput, error) {
		c := r.c
		s := c.rdsState()
		s.settle(c.now)
		id := strings.ToLower(aws.ToString(in.DBInstanceIdentifier))
		src := aws.ToString(in.DBSnapshotIdentifier)
		switch {
		case !validIdentifier(id):
			return nil, rdsErr("InvalidParameterValue", "The parameter DBInstanceIdentifier is not a valid identifier: %q", id)
		case s.instances[id] != nil:
			return nil, rdsErr("DBInstanceAlreadyExists", "DB instance already exists")
		}
		sn := s.findSnapshot(c, src, false)
		switch {
		case sn == nil:
			return nil, rdsErr("DBSnapshotNotFound", "DBSnapshot %s not found.", src)
		case sn.status != "available":
			return nil, rdsErr("InvalidDBSnapshotState", "Snapshot %s is not in available state.", src)
		}
		if g := aws.ToString(in.DBSubnetGroupName); g != "" && !s.subnets[g] {
			return nil, rdsErr("DBSubnetGroupNotFoundFault", "DBSubnetGroup %s not found.", g)
		}
		d := &db{id: id, resource: "db-" + strings.ToUpper(c.id("res")[4:]), engine: sn.engine, class: aws.ToString(in.DBInstanceClass),
			subnetGroup: aws.ToString(in.DBSubnetGroupName), paramGroup: aws.ToString(in.DBParameterGroupName), sgs: in.VpcSecurityGroupIds,
			status: "creating", until: c.now.Add(s.delays.Restore), created: c.now, tags: tagMap(in.Tags), snapshot: sn.id,
			deletionProtection: aws.ToBool(in.DeletionProtection)}
		s.instances[id] = d
		out := c.instanceSDK(d)
		return &rds.RestoreDBInstanceFromDBSnapshotOutput{DBInstance: &out}, nil
	})
}

func (r *RDS) RestoreDBClusterFromSnapshot(ctx context.Context, in *rds.RestoreDBClusterFromSnapshotInput, _ ...func(*rds.Options)) (*rds.RestoreDBClusterFromSnapshotOutput, error) {
	return serve(r.c, ctx, OpRestoreDBClusterFromSnapshot, in, func(in *rds.RestoreDBClusterFromSnapshotInput) (*rds.RestoreDBClusterFromSnapshotOutput, error) {
		c := r.c
		s := c.rdsState()
		s.settle(c.now)
		id := strings.ToLower(aws.ToString(in.DBClusterIdentifier))
		src := aws.ToString(in.SnapshotIdentifier)
		switch {
		case !validIdentifier(id):
			return nil, rdsErr("InvalidParameterValue", "The parameter DBClusterIdentifier is not a valid identifier: %q", id)
		case aws.ToString(in.Engine) == "":
			return nil, rdsErr("InvalidParameterValue", "The parameter Engine must be provided and must not be blank.")
		case s.clusters[id] != nil:
			return nil, rdsErr("DBClusterAlreadyExistsFault", "DB Cluster already exists")
		}
		sn := s.findSnapshot(c, src, true)
		switch {
		case sn == nil:
			return nil, rdsErr("DBClusterSnapshotNotFoundFault", "DBClusterSnapshot %s not found.", src)
		case sn.status != "available":
			return nil, rdsErr("InvalidDBClusterSnapshotStateFault", "Snapshot %s is not in available state.", src)
		}
		if g := aws.ToString(in.DBSubnetGroupName); g != "" && !s.subnets[g] {
			return nil, rdsErr("DBSubnetGroupNotFoundFault", "DBSubnetGroup %s not found.", g)
		}
		d := &db{id: id, resource: "cluster-" + strings.ToUpper(c.id("res")[4:]), engine: aws.ToString(in.Engine), isCluster: true,
			subnetGroup: aws.ToString(in.DBSubnetGroupName), paramGroup: aws.ToString(in.DBClusterParameterGroupName), sgs: in.VpcSecurityGroupIds,
			status: "creating", until: c.now.Add(s.delays.Restore), created: c.now, tags: tagMap(in.Tags), snapshot: sn.id}
		s.clusters[id] = d
		out := c.clusterSDK(d)
		return &rds.RestoreDBClusterFromSnapshotOutput{DBCluster: &out}, nil
	})
}

func (r *RDS) CreateDBInstance(ctx context.Context, in *rds.CreateDBInstanceInput, _ ...func(*rds.Options)) (*rds.CreateDBInstanceOutput, error) {
	return serve(r.c, ctx, OpCreateDBInstance, in, func(in *rds.CreateDBInstanceInput) (*rds.CreateDBInstanceOutput, error) {
		c := r.c
		s := c.rdsState()
		s.settle(c.now)
		id := strings.ToLower(aws.ToString(in.DBInstanceIdentifier))
		cl := aws.ToString(in.DBClusterIdentifier)
		switch {
		case !validIdentifier(id):
			return nil, rdsErr("InvalidParameterValue", "The parameter DBInstanceIdentifier is not a valid identifier: %q", id)
		case s.instances[id] != nil:
			return nil, rdsErr("DBInstanceAlreadyExists", "DB instance already exists")
		case cl == "":
			// kaizen creates instances only in clusters it restored.
			return nil, rdsErr("InvalidParameterCombination", "the simulation creates DB instances in a cluster only (DBClusterIdentifier)")
		case s.clusters[cl] == nil:
			return nil, clusterNotFound(cl)
		}
		d := &db{id: id, resource: "db-" + strings.ToUpper(c.id("res")[4:]), engine: first(aws.ToString(in.Engine), s.clusters[cl].engine),
			class: aws.ToString(in.DBInstanceClass), cluster: cl, status: "creating", until: c.now.Add(s.delays.Create), created: c.now, tags: tagMap(in.Tags)}
		s.instances[id] = d
		out := c.instanceSDK(d)
		return &rds.CreateDBInstanceOutput{DBInstance: &out}, nil
	})
}

// ---- rename ----

func (c *Cloud) rename(m map[string]*db, from, to string, apply bool, nf func(string) error, exists string) (*db, error) {
	s := c.rdsState()
	s.settle(c.now)
	from, to = strings.ToLower(from), strings.ToLower(to)
	d := m[from]
	switch {
	case d == nil:
		return nil, nf(from)
	case d.status != "available":
		return nil, rdsErr("InvalidDBInstanceState", "Database %s is not in available state (%s).", from, d.status)
	case !validIdentifier(to):
		return nil, rdsErr("InvalidParameterValue", "The parameter NewDBInstanceIdentifier is not a valid identifier: %q", to)
	case m[to] != nil:
		return nil, rdsErr(exists, "%s already exists", to)
	case !apply:
		// Without ApplyImmediately the rename waits for the maintenance
		// window: kaizen always applies at once.
		return nil, rdsErr("InvalidParameterCombination", "the simulation renames with ApplyImmediately only")
	}
	delete(m, from)
	d.id, d.status, d.until = to, "renaming", c.now.Add(s.delays.Rename)
	m[to] = d
	if d.isCluster {
		for _, in := range s.instances {
			if in.cluster == from {
				in.cluster = to
			}
		}
	}
	return d, nil
}

func (r *RDS) ModifyDBInstance(ctx context.Context, in *rds.ModifyDBInstanceInput, _ ...func(*rds.Options)) (*rds.ModifyDBInstanceOutput, error) {
	return serve(r.c, ctx, OpModifyDBInstance, in, func(in *rds.ModifyDBInstanceInput) (*rds.ModifyDBInstanceOutput, error) {
		c := r.c
		if aws.ToString(in.NewDBInstanceIdentifier) == "" {
			return nil, rdsErr("InvalidParameterCombination", "the simulation's ModifyDBInstance renames only (NewDBInstanceIdentifier)")
		}
		d, err := c.rename(c.rdsState().instances, aws.ToString(in.DBInstanceIdentifier), aws.ToString(in.NewDBInstanceIdentifier), aws.ToBool(in.ApplyImmediately), instanceNotFound, "DBInstanceAlreadyExists")
		if err != nil {
			return nil, err
		}
		out := c.instanceSDK(d)
		return &rds.ModifyDBInstanceOutput{DBInstance: &out}, nil
	})
}

func (r *RDS) ModifyDBCluster(ctx context.Context, in *rds.ModifyDBClusterInput, _ ...func(*rds.Options)) (*rds.ModifyDBClusterOutput, error) {
	return serve(r.c, ctx, OpModifyDBCluster, in, func(in *rds.ModifyDBClusterInput) (*rds.ModifyDBClusterOutput, error) {
		c := r.c
		if aws.ToString(in.NewDBClusterIdentifier) == "" {
			return nil, rdsErr("InvalidParameterCombination", "the simulation's ModifyDBCluster renames only (NewDBClusterIdentifier)")
		}
		d, err := c.rename(c.rdsState().clusters, aws.ToString(in.DBClusterIdentifier), aws.ToString(in.NewDBClusterIdentifier), aws.ToBool(in.ApplyImmediately), clusterNotFound, "DBClusterAlreadyExistsFault")
		if err != nil {
			return nil, err
		}
		out := c.clusterSDK(d)
		return &rds.ModifyDBClusterOutput{DBCluster: &out}, nil
	})
}

// ---- delete ----

// deletable reports whether RDS accepts a deletion in the status.
func deletable(status string) bool {
	return status != "renaming" && status != "modifying" && status != "deleting"
}

func (r *RDS) DeleteDBInstance(ctx context.Context, in *rds.DeleteDBInstanceInput, _ ...func(*rds.Options)) (*rds.DeleteDBInstanceOutput, error) {
	return serve(r.c, ctx, OpDeleteDBInstance, in, func(in *rds.DeleteDBInstanceInput) (*rds.DeleteDBInstanceOutput, error) {
		c := r.c
		s := c.rdsState()
		s.settle(c.now)
		id := strings.ToLower(aws.ToString(in.DBInstanceIdentifier))
		d := s.instances[id]
		switch {
		case d == nil:
			return nil, instanceNotFound(id)
		case d.deletionProtection:
			return nil, rdsErr("InvalidParameterCombination", "Cannot delete protected DB Instance, please disable deletion protection and try again.")
		case !deletable(d.status):
			return nil, rdsErr("InvalidDBInstanceState", "Instance %s is already being deleted or is not in a state to be deleted (%s).", id, d.status)
		case d.cluster == "" && !aws.ToBool(in.SkipFinalSnapshot) && aws.ToString(in.FinalDBSnapshotIdentifier) == "":
			return nil, rdsErr("InvalidParameterCombination", "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
		}
		d.status, d.until = "deleting", c.now.Add(s.delays.Delete)
		out := c.instanceSDK(d)
		return &rds.DeleteDBInstanceOutput{DBInstance: &out}, nil
	})
}

func (r *RDS) DeleteDBCluster(ctx context.Context, in *rds.DeleteDBClusterInput, _ ...func(*rds.Options)) (*rds.DeleteDBClusterOutput, error) {
	return serve(r.c, ctx, OpDeleteDBCluster, in, func(in *rds.DeleteDBClusterInput) (*rds.DeleteDBClusterOutput, error) {
		c := r.c
		s := c.rdsState()
		s.settle(c.now)
		id := strings.ToLower(aws.ToString(in.DBClusterIdentifier))
		d := s.clusters[id]
		switch {
		case d == nil:
			return nil, clusterNotFound(id)
		case !deletable(d.status):
			return nil, rdsErr("InvalidDBClusterStateFault", "Cluster %s is not in a state to be deleted (%s).", id, d.status)
		case !aws.ToBool(in.SkipFinalSnapshot) && aws.ToString(in.FinalDBSnapshotIdentifier) == "":
			return nil, rdsErr("InvalidParameterCombination", "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
		}
		for _, m := range s.instances {
			if m.cluster == id && m.status != "deleting" {
				return nil, rdsErr("InvalidDBClusterStateFault", "Cluster cannot be deleted, it still contains DB instances in non-deleting state.")
			}
		}
		d.status, d.until = "deleting", c.now.Add(s.delays.Delete)
		out := c.clusterSDK(d)
		return &rds.DeleteDBClusterOutput{DBCluster: &out}, nil
	})
}

func (c *Cloud) deleteSnapshot(id string, cluster bool) (*dbSnapshot, error) {
	s := c.rdsState()
	s.settle(c.now)
	sn := s.findSnapshot(c, id, cluster)
	switch {
	case sn == nil || sn.owner != c.Account:
		if cluster {
			return nil, rdsErr("DBClusterSnapshotNotFoundFault", "DBClusterSnapshot %s not found.", id)
		}
		return nil, rdsErr("DBSnapshotNotFound", "DBSnapshot %s not found.", id)
	case sn.typ == "automated":
		return nil, rdsErr("InvalidDBSnapshotState", "Only manual snapshots may be deleted.")
	case sn.status == "deleting":
		return nil, rdsErr("InvalidDBSnapshotState", "Snapshot %s is already being deleted.", id)
	}
	// Deleting a copy in progress cancels it.
	sn.status, sn.until = "deleting", c.now.Add(time.Minute)
	return sn, nil
}

func (r *RDS) DeleteDBSnapshot(ctx context.Context, in *rds.DeleteDBSnapshotInput, _ ...func(*rds.Options)) (*rds.DeleteDBSnapshotOutput, error) {
	return serve(r.c, ctx, OpDeleteDBSnapshot, in, func(in *rds.DeleteDBSnapshotInput) (*rds.DeleteDBSnapshotOutput, error) {
		sn, err := r.c.deleteSnapshot(aws.ToString(in.DBSnapshotIdentifier), false)
		if err != nil {
			return nil, err
		}
		out := r.c.snapshotSDK(sn)
		return &rds.DeleteDBSnapshotOutput{DBSnapshot: &out}, nil
	})
}

func (r *RDS) DeleteDBClusterSnapshot(ctx context.Context, in *rds.DeleteDBClusterSnapshotInput, _ ...func(*rds.Options)) (*rds.DeleteDBClusterSnapshotOutput, error) {
	return serve(r.c, ctx, OpDeleteDBClusterSnapshot, in, func(in *rds.DeleteDBClusterSnapshotInput) (*rds.DeleteDBClusterSnapshotOutput, error) {
		sn, err := r.c.deleteSnapshot(aws.ToString(in.DBClusterSnapshotIdentifier), true)
		if err != nil {
			return nil, err
		}
		out := r.c.clusterSnapshotSDK(sn)
		return &rds.DeleteDBClusterSnapshotOutput{DBClusterSnapshot: &out}, nil
	})
}
