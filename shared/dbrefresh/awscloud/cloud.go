// Package awscloud is the database refresh's adapter: it observes and
// changes RDS, the scrub build and the staging secret through narrow
// clients (the SDK's, or the simulator's), and notifies. It is apart from
// package dbrefresh so that the store, which every function links, does not
// link the RDS and Secrets Manager clients.
package awscloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
	"github.com/kaizen-sre/kaizen/shared/rdsapi"
)

var _ dbrefresh.Cloud = (*Cloud)(nil)

// The domain's types, by their short names.
type (
	Snapshot = dbrefresh.Snapshot
	DB       = dbrefresh.DB
	Build    = dbrefresh.Build
	Observed = dbrefresh.Observed
	Needs    = dbrefresh.Needs
	Action   = dbrefresh.Action
)

// SecretsAPI is what the refresh calls on Secrets Manager (endpoint
// "secret" only): read the staging secret, write it back with the new host.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, params *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, params *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// ScrubAPI is what the refresh calls on CodeBuild: start the scrub, read
// its status.
type ScrubAPI interface {
	StartBuild(ctx context.Context, params *codebuild.StartBuildInput, optFns ...func(*codebuild.Options)) (*codebuild.StartBuildOutput, error)
	BatchGetBuilds(ctx context.Context, params *codebuild.BatchGetBuildsInput, optFns ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error)
}

var (
	_ SecretsAPI = (*secretsmanager.Client)(nil)
	_ ScrubAPI   = (*codebuild.Client)(nil)
)

// Cloud is the adapter: it observes and changes RDS, the scrub build and
// the staging secret through the narrow clients, and notifies.
type Cloud struct {
	RDS      rdsapi.API
	Scrub    ScrubAPI
	Secrets  SecretsAPI // only for endpoint "secret"
	Notifier awsapi.Notifier
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// IsNotFound reports RDS's not-found errors (DBInstanceNotFound,
// DBClusterNotFoundFault, DBSnapshotNotFound ...).
func IsNotFound(err error) bool { return strings.Contains(code(err), "NotFound") }

// IsAlreadyExists reports RDS's already-exists errors.
func IsAlreadyExists(err error) bool { return strings.Contains(code(err), "AlreadyExists") }

// Observe reads what needs lists.
func (c *Cloud) Observe(ctx context.Context, f *config.File, app *config.App, needs Needs) (Observed, error) {
	d := app.DBRefresh
	cluster := d.Source.Cluster()
	obs := Observed{}
	if needs.Newest {
		n, err := c.newest(ctx, f, d)
		if err != nil {
			return obs, fmt.Errorf("production's snapshots: %w", err)
		}
		obs.Newest, obs.Looked = n, true
	}
	if len(needs.DBs) > 0 {
		dbs, err := c.databases(ctx, cluster, needs.DBs)
		if err != nil {
			return obs, fmt.Errorf("describe databases: %w", err)
		}
		obs.DBs = dbs
	}
	if needs.Copy != "" {
		s, err := c.snapshot(ctx, cluster, needs.Copy)
		if err != nil {
			return obs, fmt.Errorf("describe snapshot copy %s: %w", needs.Copy, err)
		}
		obs.Copy = s
	}
	if needs.Build != "" {
		out, err := c.Scrub.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{needs.Build}})
		if err != nil {
			return obs, fmt.Errorf("scrub build %s: %w", needs.Build, err)
		}
		obs.Build = &Build{ID: needs.Build, Status: "NOT_FOUND"}
		for _, b := range out.Builds {
			if aws.ToString(b.Id) == needs.Build {
				obs.Build.Status = string(b.BuildStatus)
			}
		}
	}
	return obs, nil
}

// newest finds production's newest available snapshot of the configured
// type. Snapshots shared by another account are listed with theirs and
// picked by their ARN's account and their source database.
func (c *Cloud) newest(ctx context.Context, f *config.File, d *config.DBRefresh) (*Snapshot, error) {
	src, typ := d.Source.ID(), d.SnapshotType
	shared := typ == config.SnapshotShared
	var all []Snapshot
	if d.Source.Cluster() {
		in := &rds.DescribeDBClusterSnapshotsInput{SnapshotType: aws.String(typ)}
		if shared {
			in.IncludeShared = aws.Bool(true)
		} else {
			in.DBClusterIdentifier = aws.String(src)
		}
		for {
			out, err := c.RDS.DescribeDBClusterSnapshots(ctx, in)
			if err != nil {
				return nil, err
			}
			for _, s := range out.DBClusterSnapshots {
				all = append(all, clusterSnapshot(s))
			}
			if aws.ToString(out.Marker) == "" {
				break
			}
			in.Marker = out.Marker
		}
	} else {
		in := &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String(typ)}
		if shared {
			in.IncludeShared = aws.Bool(true)
		} else {
			in.DBInstanceIdentifier = aws.String(src)
		}
		for {
			out, err := c.RDS.DescribeDBSnapshots(ctx, in)
			if err != nil {
				return nil, err
			}
			for _, s := range out.DBSnapshots {
				all = append(all, instanceSnapshot(s))
			}
			if aws.ToString(out.Marker) == "" {
				break
			}
			in.Marker = out.Marker
		}
	}
	account := d.SourceAccount(f)
	var best *Snapshot
	for i := range all {
		s := &all[i]
		if s.Status != "available" || s.Source != src || (shared && arnAccount(s.ARN) != account) {
			continue
		}
		if shared {
			s.Type = config.SnapshotShared
		}
		if best == nil || s.Created.After(best.Created) {
			best = s
		}
	}
	return best, nil
}

func arnAccount(arn string) string {
	if p := strings.SplitN(arn, ":", 6); len(p) == 6 {
		return p[4]
	}
	return ""
}

func instanceSnapshot(s rdstypes.DBSnapshot) Snapshot {
	return Snapshot{
		ID: aws.ToString(s.DBSnapshotIdentifier), ARN: aws.ToString(s.DBSnapshotArn), Created: aws.ToTime(s.SnapshotCreateTime).UTC(),
		Status: aws.ToString(s.Status), Type: aws.ToString(s.SnapshotType), Source: aws.ToString(s.DBInstanceIdentifier),
		Engine: aws.ToString(s.Engine), Encrypted: aws.ToBool(s.Encrypted), KMSKeyID: aws.ToString(s.KmsKeyId),
	}
}

func clusterSnapshot(s rdstypes.DBClusterSnapshot) Snapshot {
	return Snapshot{
		ID: aws.ToString(s.DBClusterSnapshotIdentifier), ARN: aws.ToString(s.DBClusterSnapshotArn), Created: aws.ToTime(s.SnapshotCreateTime).UTC(),
		Status: aws.ToString(s.Status), Type: aws.ToString(s.SnapshotType), Source: aws.ToString(s.DBClusterIdentifier),
		Engine: aws.ToString(s.Engine), Encrypted: aws.ToBool(s.StorageEncrypted), KMSKeyID: aws.ToString(s.KmsKeyId),
	}
}

// snapshot describes one snapshot of this account; nil if there is none.
// It filters by identifier rather than naming the snapshot, so that one
// that is gone (deleted once restored) is an empty answer, not an error.
func (c *Cloud) snapshot(ctx context.Context, cluster bool, id string) (*Snapshot, error) {
	if cluster {
		out, err := c.RDS.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{
			Filters: []rdstypes.Filter{{Name: aws.String("db-cluster-snapshot-id"), Values: []string{id}}}})
		if err != nil || len(out.DBClusterSnapshots) == 0 {
			return nil, err
		}
		s := clusterSnapshot(out.DBClusterSnapshots[0])
		return &s, nil
	}
	out, err := c.RDS.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{
		Filters: []rdstypes.Filter{{Name: aws.String("db-snapshot-id"), Values: []string{id}}}})
	if err != nil || len(out.DBSnapshots) == 0 {
		return nil, err
	}
	s := instanceSnapshot(out.DBSnapshots[0])
	return &s, nil
}

// databases describes the databases by identifier, in one call (two for
// clusters: the clusters, then their instances); absent ones are left out.
func (c *Cloud) databases(ctx context.Context, cluster bool, ids []string) (map[string]*DB, error) {
	ids = uniq(ids)
	out := map[string]*DB{}
	if !cluster {
		insts, err := c.instances(ctx, "db-instance-id", ids)
		if err != nil {
			return nil, err
		}
		for _, in := range insts {
			db := instanceDB(in)
			out[db.ID] = db
		}
		return out, nil
	}
	in := &rds.DescribeDBClustersInput{Filters: []rdstypes.Filter{{Name: aws.String("db-cluster-id"), Values: ids}}}
	var clusters []rdstypes.DBCluster
	for {
		res, err := c.RDS.DescribeDBClusters(ctx, in)
		if err != nil {
			return nil, err
		}
		clusters = append(clusters, res.DBClusters...)
		if aws.ToString(res.Marker) == "" {
			break
		}
		in.Marker = res.Marker
	}
	if len(clusters) == 0 {
		return out, nil
	}
	var names []string
	for _, cl := range clusters {
		names = append(names, aws.ToString(cl.DBClusterIdentifier))
	}
	members, err := c.instances(ctx, "db-cluster-id", names)
	if err != nil {
		return nil, err
	}
	for _, cl := range clusters {
		id := aws.ToString(cl.DBClusterIdentifier)
		db := &DB{ID: id, Resource: aws.ToString(cl.DbClusterResourceId), Status: aws.ToString(cl.Status),
			Endpoint: aws.ToString(cl.Endpoint), Port: aws.ToInt32(cl.Port), Created: aws.ToTime(cl.ClusterCreateTime).UTC()}
		if db.Status == "available" {
			// A cluster takes connections once its writer does.
			db.Status = "creating"
			for _, m := range members {
				if aws.ToString(m.DBClusterIdentifier) == id && aws.ToString(m.DBInstanceStatus) == "available" {
					db.Status = "available"
				}
			}
		}
		out[id] = db
	}
	return out, nil
}

func (c *Cloud) instances(ctx context.Context, filter string, values []string) ([]rdstypes.DBInstance, error) {
	in := &rds.DescribeDBInstancesInput{Filters: []rdstypes.Filter{{Name: aws.String(filter), Values: values}}}
	var all []rdstypes.DBInstance
	for {
		out, err := c.RDS.DescribeDBInstances(ctx, in)
		if err != nil {
			return nil, err
		}
		all = append(all, out.DBInstances...)
		if aws.ToString(out.Marker) == "" {
			return all, nil
		}
		in.Marker = out.Marker
	}
}

func instanceDB(in rdstypes.DBInstance) *DB {
	db := &DB{ID: aws.ToString(in.DBInstanceIdentifier), Resource: aws.ToString(in.DbiResourceId), Status: aws.ToString(in.DBInstanceStatus),
		Created: aws.ToTime(in.InstanceCreateTime).UTC()}
	if in.Endpoint != nil {
		db.Endpoint, db.Port = aws.ToString(in.Endpoint.Address), aws.ToInt32(in.Endpoint.Port)
	}
	return db
}

func uniq(xs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range xs {
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// Tags are what every resource a refresh creates carries.
func tags(app *config.App, refresh string) []rdstypes.Tag {
	return []rdstypes.Tag{
		{Key: aws.String("kaizen:app"), Value: aws.String(app.Name)},
		{Key: aws.String("kaizen:dbrefresh"), Value: aws.String(refresh)},
	}
}

// Apply makes one planned change. It returns the scrub build's id for
// StartScrub. Creating what exists and deleting what is gone succeed, so
// a step that is retried converges.
func (c *Cloud) Apply(ctx context.Context, f *config.File, app *config.App, a Action) (string, error) {
	d := app.DBRefresh
	cluster := d.Source.Cluster()
	ignore := func(err error, ok func(error) bool) error {
		if err != nil && ok(err) {
			return nil
		}
		return err
	}
	switch a.Kind {
	case dbrefresh.Notify:
		return "", c.Notifier.Notify(ctx, app, a.Subject, a.Message)
	case dbrefresh.CopySnapshot:
		var kms *string
		if d.KMSKeyID != "" {
			kms = aws.String(d.KMSKeyID)
		}
		var err error
		if cluster {
			_, err = c.RDS.CopyDBClusterSnapshot(ctx, &rds.CopyDBClusterSnapshotInput{
				SourceDBClusterSnapshotIdentifier: aws.String(a.Snapshot.Ref()), TargetDBClusterSnapshotIdentifier: aws.String(a.DB),
				KmsKeyId: kms, Tags: tags(app, a.Refresh),
			})
		} else {
			_, err = c.RDS.CopyDBSnapshot(ctx, &rds.CopyDBSnapshotInput{
				SourceDBSnapshotIdentifier: aws.String(a.Snapshot.Ref()), TargetDBSnapshotIdentifier: aws.String(a.DB),
				KmsKeyId: kms, Tags: tags(app, a.Refresh),
			})
		}
		return "", wrap("copy snapshot "+a.Snapshot.Ref(), ignore(err, IsAlreadyExists))
	case dbrefresh.Restore:
		return "", wrap("restore "+a.DB, c.restore(ctx, app, a))
	case dbrefresh.DeleteCopy:
		var err error
		if cluster {
			_, err = c.RDS.DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String(a.DB)})
		} else {
			_, err = c.RDS.DeleteDBSnapshot(ctx, &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String(a.DB)})
		}
		return "", wrap("delete snapshot "+a.DB, ignore(err, IsNotFound))
	case dbrefresh.StartScrub:
		src := ""
		if a.Snapshot != nil {
			src = a.Snapshot.ID
		}
		vars := map[string]string{
			dbrefresh.EnvEndpoint: a.Host, dbrefresh.EnvPort: strconv.Itoa(int(a.Port)), dbrefresh.EnvIdentifier: a.DB,
			dbrefresh.EnvSnapshot: src, dbrefresh.EnvRefresh: app.Name + "/" + a.Refresh,
		}
		var env []cbtypes.EnvironmentVariable
		for _, k := range dbrefresh.ScrubVariables {
			env = append(env, cbtypes.EnvironmentVariable{Name: aws.String(k), Value: aws.String(vars[k]), Type: cbtypes.EnvironmentVariableTypePlaintext})
		}
		out, err := c.Scrub.StartBuild(ctx, &codebuild.StartBuildInput{
			ProjectName: aws.String(d.Scrub.CodeBuildProject), EnvironmentVariablesOverride: env,
			// A retried step within five minutes gets the same build.
			IdempotencyToken: aws.String("kaizen-dbrefresh-" + app.Name + "-" + a.Refresh),
		})
		if err != nil {
			return "", fmt.Errorf("start scrub build %s: %w", d.Scrub.CodeBuildProject, err)
		}
		if out.Build == nil || aws.ToString(out.Build.Id) == "" {
			return "", fmt.Errorf("start scrub build %s: no build id in the answer", d.Scrub.CodeBuildProject)
		}
		return aws.ToString(out.Build.Id), nil
	case dbrefresh.Rename:
		var err error
		if cluster {
			_, err = c.RDS.ModifyDBCluster(ctx, &rds.ModifyDBClusterInput{
				DBClusterIdentifier: aws.String(a.From), NewDBClusterIdentifier: aws.String(a.To), ApplyImmediately: aws.Bool(true)})
		} else {
			_, err = c.RDS.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{
				DBInstanceIdentifier: aws.String(a.From), NewDBInstanceIdentifier: aws.String(a.To), ApplyImmediately: aws.Bool(true)})
		}
		return "", wrap(fmt.Sprintf("rename %s to %s", a.From, a.To), err)
	case dbrefresh.SetSecretHost:
		return "", wrap("set the host of "+d.Secret, c.setSecretHost(ctx, d, a.Host))
	case dbrefresh.DeleteDB:
		return "", wrap("delete database "+a.DB, c.deleteDB(ctx, cluster, a.DB))
	}
	return "", fmt.Errorf("unknown action %q", a.Kind)
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (c *Cloud) restore(ctx context.Context, app *config.App, a Action) error {
	d := app.DBRefresh
	var pg *string
	if d.ParameterGroup != "" {
		pg = aws.String(d.ParameterGroup)
	}
	if !d.Source.Cluster() {
		_, err := c.RDS.RestoreDBInstanceFromDBSnapshot(ctx, &rds.RestoreDBInstanceFromDBSnapshotInput{
			DBInstanceIdentifier: aws.String(a.DB), DBSnapshotIdentifier: aws.String(a.Snapshot.ID),
			DBInstanceClass: aws.String(d.InstanceClass), DBSubnetGroupName: aws.String(d.SubnetGroup),
			VpcSecurityGroupIds: d.SecurityGroupIDs, DBParameterGroupName: pg,
			PubliclyAccessible: aws.Bool(false), MultiAZ: aws.Bool(false), DeletionProtection: aws.Bool(false),
			Tags: tags(app, a.Refresh),
		})
		if IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	_, err := c.RDS.RestoreDBClusterFromSnapshot(ctx, &rds.RestoreDBClusterFromSnapshotInput{
		DBClusterIdentifier: aws.String(a.DB), SnapshotIdentifier: aws.String(a.Snapshot.ID), Engine: aws.String(a.Snapshot.Engine),
		DBSubnetGroupName: aws.String(d.SubnetGroup), VpcSecurityGroupIds: d.SecurityGroupIDs,
		DBClusterParameterGroupName: pg, DeletionProtection: aws.Bool(false), Tags: tags(app, a.Refresh),
	})
	if err != nil && !IsAlreadyExists(err) {
		return err
	}
	// An Aurora cluster takes connections through an instance: its writer.
	_, err = c.RDS.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(WriterName(a.DB)), DBClusterIdentifier: aws.String(a.DB),
		DBInstanceClass: aws.String(d.InstanceClass), Engine: aws.String(a.Snapshot.Engine),
		PubliclyAccessible: aws.Bool(false), Tags: tags(app, a.Refresh),
	})
	if IsAlreadyExists(err) {
		return nil
	}
	return err
}

// WriterName is the writer instance kaizen gives a restored cluster.
func WriterName(cluster string) string { return cluster + "-1" }

func (c *Cloud) deleteDB(ctx context.Context, cluster bool, id string) error {
	if !cluster {
		_, err := c.RDS.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{
			DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true), DeleteAutomatedBackups: aws.Bool(true)})
		if IsNotFound(err) {
			return nil
		}
		return err
	}
	// A cluster goes once its instances are going.
	members, err := c.instances(ctx, "db-cluster-id", []string{id})
	if err != nil {
		return err
	}
	for _, m := range members {
		if aws.ToString(m.DBInstanceStatus) == "deleting" {
			continue
		}
		_, err := c.RDS.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: m.DBInstanceIdentifier, SkipFinalSnapshot: aws.Bool(true)})
		if err != nil && !IsNotFound(err) {
			return err
		}
	}
	_, err = c.RDS.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)})
	if IsNotFound(err) {
		return nil
	}
	return err
}

// setSecretHost rewrites the staging secret (a JSON object) with its host
// key set to host, keeping every other key as it is.
func (c *Cloud) setSecretHost(ctx context.Context, d *config.DBRefresh, host string) error {
	if c.Secrets == nil {
		return errors.New("no Secrets Manager client")
	}
	out, err := c.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(d.Secret)})
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &m); err != nil || m == nil {
		return fmt.Errorf("the secret is not a JSON object")
	}
	h, _ := json.Marshal(host)
	m[d.SecretHostKey] = h
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = c.Secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(d.Secret), SecretString: aws.String(string(b))})
	return err
}
