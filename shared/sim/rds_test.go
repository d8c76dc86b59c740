package sim_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"

	"github.com/kaizen-sre/kaizen/shared/sim"
)

func rdsCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func instanceStatus(t *testing.T, api *sim.RDS, id string) string {
	t.Helper()
	out, err := api.DescribeDBInstances(context.Background(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if rdsCode(err) == "DBInstanceNotFound" {
		return "gone"
	}
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.DBInstances[0].DBInstanceStatus)
}

// RDS's slow operations take their time on the virtual clock, and refuse
// what RDS refuses.
func TestRDSRestoreRenameDelete(t *testing.T) {
	ctx := context.Background()
	c := sim.New(t0)
	api := c.RDS()
	c.AddDBInstance("prod", "postgres")
	c.AddDBInstance("staging", "postgres")
	c.AddDBSubnetGroup("staging")
	snap := c.TakeAutomatedSnapshot("prod", false, "")

	_, err := api.CopyDBSnapshot(ctx, &rds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String(snap), TargetDBSnapshotIdentifier: aws.String("staging-1")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.CopyDBSnapshot(ctx, &rds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String(snap), TargetDBSnapshotIdentifier: aws.String("staging-1")}); rdsCode(err) != "DBSnapshotAlreadyExists" {
		t.Fatalf("second copy: %v", err)
	}
	restore := func() error {
		_, err := api.RestoreDBInstanceFromDBSnapshot(ctx, &rds.RestoreDBInstanceFromDBSnapshotInput{DBInstanceIdentifier: aws.String("staging-1"),
			DBSnapshotIdentifier: aws.String("staging-1"), DBSubnetGroupName: aws.String("staging"), DBInstanceClass: aws.String("db.t4g.medium")})
		return err
	}
	if err := restore(); rdsCode(err) != "InvalidDBSnapshotState" {
		t.Fatalf("restore of a copy in progress: %v", err)
	}
	c.Advance(sim.DefaultRDSDelays.Copy)
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	if s := instanceStatus(t, api, "staging-1"); s != "creating" {
		t.Fatalf("restored instance is %s, want creating", s)
	}
	c.Advance(sim.DefaultRDSDelays.Restore)
	if s := instanceStatus(t, api, "staging-1"); s != "available" {
		t.Fatalf("after the restore delay: %s", s)
	}
	// Filters: absent ids are left out, not errors.
	out, err := api.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{Filters: []rdstypes.Filter{{Name: aws.String("db-instance-id"), Values: []string{"staging", "nope"}}}})
	if err != nil || len(out.DBInstances) != 1 || aws.ToString(out.DBInstances[0].DBInstanceIdentifier) != "staging" {
		t.Fatalf("filtered describe: %+v, %v", out, err)
	}

	rename := func(from, to string, now bool) error {
		_, err := api.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(from), NewDBInstanceIdentifier: aws.String(to), ApplyImmediately: aws.Bool(now)})
		return err
	}
	if err := rename("staging-1", "staging", true); rdsCode(err) != "DBInstanceAlreadyExists" {
		t.Fatalf("rename onto an existing name: %v", err)
	}
	if err := rename("staging", "staging-old", false); rdsCode(err) != "InvalidParameterCombination" {
		t.Fatalf("rename in the maintenance window: %v", err)
	}
	if err := rename("staging", "staging-old", true); err != nil {
		t.Fatal(err)
	}
	if s, old := instanceStatus(t, api, "staging-old"), instanceStatus(t, api, "staging"); s != "renaming" || old != "gone" {
		t.Fatalf("renamed: %s, the old name %s", s, old)
	}
	if err := rename("staging-old", "staging-older", true); rdsCode(err) != "InvalidDBInstanceState" {
		t.Fatalf("rename while renaming: %v", err)
	}
	if _, err := api.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("staging-old"), SkipFinalSnapshot: aws.Bool(true)}); rdsCode(err) != "InvalidDBInstanceState" {
		t.Fatalf("delete while renaming: %v", err)
	}
	c.Advance(sim.DefaultRDSDelays.Rename)
	if _, err := api.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("staging-old")}); rdsCode(err) != "InvalidParameterCombination" {
		t.Fatalf("delete without a final snapshot decision: %v", err)
	}
	if _, err := api.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("staging-old"), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if s := instanceStatus(t, api, "staging-old"); s != "deleting" {
		t.Fatalf("deleted: %s", s)
	}
	c.Advance(sim.DefaultRDSDelays.Delete)
	if s := instanceStatus(t, api, "staging-old"); s != "gone" {
		t.Fatalf("after the delete delay: %s", s)
	}
	if _, err := api.DeleteDBSnapshot(ctx, &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String(snap)}); rdsCode(err) != "InvalidDBSnapshotState" {
		t.Fatalf("deleting an automated snapshot: %v", err)
	}
	if n := c.Mutations(); n["CopyDBSnapshot"] != 1 || n["ModifyDBInstance"] != 1 || n["DeleteDBInstance"] != 1 {
		t.Fatalf("mutations %v: only successful calls count", n)
	}
}

// Another account's snapshot is visible only as a shared one, by its ARN,
// and its copy must name one of this account's keys.
func TestRDSSharedSnapshots(t *testing.T) {
	ctx := context.Background()
	c := sim.New(t0)
	api := c.RDS()
	arn := c.TakeAutomatedSnapshot("prod", false, "444455556666")
	mine, err := api.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{})
	if err != nil || len(mine.DBSnapshots) != 0 {
		t.Fatalf("own snapshots: %+v, %v", mine.DBSnapshots, err)
	}
	shared, err := api.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String("shared"), IncludeShared: aws.Bool(true)})
	if err != nil || len(shared.DBSnapshots) != 1 || aws.ToString(shared.DBSnapshots[0].DBSnapshotArn) != arn {
		t.Fatalf("shared snapshots: %+v, %v", shared.DBSnapshots, err)
	}
	if _, err := api.CopyDBSnapshot(ctx, &rds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String(arn), TargetDBSnapshotIdentifier: aws.String("copy")}); rdsCode(err) != "InvalidParameterValue" {
		t.Fatalf("copy of a shared encrypted snapshot without a key: %v", err)
	}
	if _, err := api.CopyDBSnapshot(ctx, &rds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String(arn), TargetDBSnapshotIdentifier: aws.String("copy"),
		KmsKeyId: aws.String("arn:aws:kms:eu-west-1:111122223333:key/0f0e0d0c-0b0a-4908-8706-050403020100")}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.DeleteDBSnapshot(ctx, &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String(arn)}); rdsCode(err) != "DBSnapshotNotFound" {
		t.Fatalf("deleting another account's snapshot: %v", err)
	}
}

// A cluster goes only once its instances are going; its writer follows
// its renames.
func TestRDSClusters(t *testing.T) {
	ctx := context.Background()
	c := sim.New(t0)
	api := c.RDS()
	c.AddDBCluster("staging", "aurora-postgresql")
	if _, err := api.ModifyDBCluster(ctx, &rds.ModifyDBClusterInput{DBClusterIdentifier: aws.String("staging"), NewDBClusterIdentifier: aws.String("staging-old"), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	out, err := api.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{Filters: []rdstypes.Filter{{Name: aws.String("db-cluster-id"), Values: []string{"staging-old"}}}})
	if err != nil || len(out.DBInstances) != 1 {
		t.Fatalf("the writer after its cluster's rename: %+v, %v", out, err)
	}
	c.Advance(time.Hour)
	del := func() error {
		_, err := api.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("staging-old"), SkipFinalSnapshot: aws.Bool(true)})
		return err
	}
	if err := del(); rdsCode(err) != "InvalidDBClusterStateFault" {
		t.Fatalf("deleting a cluster with its writer: %v", err)
	}
	if _, err := api.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: out.DBInstances[0].DBInstanceIdentifier}); err != nil {
		t.Fatal(err)
	}
	if err := del(); err != nil {
		t.Fatal(err)
	}
}
