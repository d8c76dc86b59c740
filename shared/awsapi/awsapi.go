// Package awsapi holds kaizen's narrow views of the SDK clients that every
// function may use (the state table's DynamoDB, SNS for notices, CodeBuild
// and CodePipeline for golden-image rebuilds), the Notifier port with its
// SNS adapter, and the classification of AWS errors. Package cloud adds the
// release fleet (EC2, Auto Scaling, ELBv2) and its adapter, and re-exports
// these names.
//
// Why apart from cloud: importing an SDK service package links its whole
// schema table, built at init (0.3 to 0.6 MiB of bootstrap per service),
// whether or not a client of it is ever made. The functions that run no
// release step (secretchange, alaspoll) and the packages they use (store,
// rebuild, alas, secretchange) import this package rather than cloud, so
// they carry no Auto Scaling or ELBv2 code; TestBootstrapSizes in cmd/kaizen
// keeps every bootstrap within its size budget.
package awsapi

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// SNSAPI is what kaizen calls on SNS.
type SNSAPI interface {
	Publish(ctx context.Context, params *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// CodeBuildAPI is what kaizen calls on CodeBuild to rebuild a golden image.
type CodeBuildAPI interface {
	StartBuild(ctx context.Context, params *codebuild.StartBuildInput, optFns ...func(*codebuild.Options)) (*codebuild.StartBuildOutput, error)
	ListBuildsForProject(ctx context.Context, params *codebuild.ListBuildsForProjectInput, optFns ...func(*codebuild.Options)) (*codebuild.ListBuildsForProjectOutput, error)
	BatchGetBuilds(ctx context.Context, params *codebuild.BatchGetBuildsInput, optFns ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error)
}

// CodePipelineAPI is what kaizen calls on CodePipeline to rebuild.
type CodePipelineAPI interface {
	StartPipelineExecution(ctx context.Context, params *codepipeline.StartPipelineExecutionInput, optFns ...func(*codepipeline.Options)) (*codepipeline.StartPipelineExecutionOutput, error)
	ListPipelineExecutions(ctx context.Context, params *codepipeline.ListPipelineExecutionsInput, optFns ...func(*codepipeline.Options)) (*codepipeline.ListPipelineExecutionsOutput, error)
}

// DynamoDBAPI is what the state store calls on DynamoDB.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	// BatchGetItem reads every app's state in one tick (store.LoadMany).
	BatchGetItem(ctx context.Context, params *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, params *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

var (
	_ SNSAPI          = (*sns.Client)(nil)
	_ CodeBuildAPI    = (*codebuild.Client)(nil)
	_ CodePipelineAPI = (*codepipeline.Client)(nil)
	_ DynamoDBAPI     = (*dynamodb.Client)(nil)
)
