package simhttp

import (
	"context"
	"reflect"

	rdsschemas "github.com/aws/aws-sdk-go-v2/service/rds/schemas"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/kaizen-sre/kaizen/shared/rdsapi"
	"github.com/kaizen-sre/kaizen/shared/sim"
)

// RDS speaks awsQuery, with Smithy schemas: served by the generic codec
// (query.go), like Auto Scaling, ELBv2 and SNS.
const (
	svcRDS     = "rds"
	svcSecrets = "secretsmanager"
)

func rdsQueryService(api rdsapi.API) *queryService {
	return &queryService{xmlns: "http://rds.amazonaws.com/doc/2014-10-31/", ops: map[string]queryOp{
		"DescribeDBInstances":             opOf(api.DescribeDBInstances, rdsschemas.DescribeDBInstancesMessage),
		"DescribeDBClusters":              opOf(api.DescribeDBClusters, rdsschemas.DescribeDBClustersMessage),
		"DescribeDBSnapshots":             opOf(api.DescribeDBSnapshots, rdsschemas.DescribeDBSnapshotsMessage),
		"DescribeDBClusterSnapshots":      opOf(api.DescribeDBClusterSnapshots, rdsschemas.DescribeDBClusterSnapshotsMessage),
		"CopyDBSnapshot":                  copyOpOf(api.CopyDBSnapshot, rdsschemas.CopyDBSnapshotMessage),
		"CopyDBClusterSnapshot":           copyOpOf(api.CopyDBClusterSnapshot, rdsschemas.CopyDBClusterSnapshotMessage),
		"RestoreDBInstanceFromDBSnapshot": opOf(api.RestoreDBInstanceFromDBSnapshot, rdsschemas.RestoreDBInstanceFromDBSnapshotMessage),
		"RestoreDBClusterFromSnapshot":    opOf(api.RestoreDBClusterFromSnapshot, rdsschemas.RestoreDBClusterFromSnapshotMessage),
		"CreateDBInstance":                opOf(api.CreateDBInstance, rdsschemas.CreateDBInstanceMessage),
		"ModifyDBInstance":                opOf(api.ModifyDBInstance, rdsschemas.ModifyDBInstanceMessage),
		"ModifyDBCluster":                 opOf(api.ModifyDBCluster, rdsschemas.ModifyDBClusterMessage),
		"DeleteDBInstance":                opOf(api.DeleteDBInstance, rdsschemas.DeleteDBInstanceMessage),
		"DeleteDBCluster":                 opOf(api.DeleteDBCluster, rdsschemas.DeleteDBClusterMessage),
		"DeleteDBSnapshot":                opOf(api.DeleteDBSnapshot, rdsschemas.DeleteDBSnapshotMessage),
		"DeleteDBClusterSnapshot":         opOf(api.DeleteDBClusterSnapshot, rdsschemas.DeleteDBClusterSnapshotMessage),
	}}
}

// copyOpOf is opOf for the copies, whose schemas carry DestinationRegion:
// a member the SDK fills itself for a cross-Region copy's presigned URL
// and keeps out of the Go input. It is read and dropped.
func copyOpOf[I any, PO smithy.Serializable, Opt any](call func(context.Context, *I, ...func(Opt)) (PO, error), schema *smithy.Schema) queryOp {
	return func(ctx context.Context, d *queryDecoder) (smithy.Serializable, error) {
		in := new(I)
		v := reflect.ValueOf(in).Elem()
		err := smithy.ReadStruct(d, schema, func(m *smithy.Schema) error {
			if f := v.FieldByName(fieldName(m)); f.IsValid() {
				return readValue(d, m, f)
			}
			var dropped string
			return d.ReadString(m, &dropped)
		})
		if err != nil {
			return nil, badRequest("MalformedQueryString", "%v", err)
		}
		out, err := call(ctx, in)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// Secrets Manager speaks awsJson1_1: its two operations the refresh calls
// (endpoint "secret"), mapped by hand as json.go maps CodeBuild's.
func secretsJSONOps(sm *sim.SecretsManager) map[string]jsonOp {
	return map[string]jsonOp{
		"secretsmanager.GetSecretValue": jsonOpOf(func(ctx context.Context, in *wireSecretIn) (any, error) {
			out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: in.SecretID, VersionStage: in.VersionStage})
			if err != nil {
				return nil, err
			}
			return map[string]any{"Name": out.Name, "SecretString": out.SecretString, "VersionStages": out.VersionStages}, nil
		}),
		"secretsmanager.PutSecretValue": jsonOpOf(func(ctx context.Context, in *wireSecretIn) (any, error) {
			out, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: in.SecretID, SecretString: in.SecretString, ClientRequestToken: in.ClientRequestToken})
			if err != nil {
				return nil, err
			}
			return map[string]any{"Name": out.Name, "VersionId": out.VersionId, "VersionStages": out.VersionStages}, nil
		}),
	}
}

type wireSecretIn struct {
	SecretID           *string `json:"SecretId"`
	SecretString       *string `json:"SecretString"`
	VersionStage       *string `json:"VersionStage"`
	ClientRequestToken *string `json:"ClientRequestToken"`
}
