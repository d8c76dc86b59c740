package sim

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Secrets Manager operations: the database refresh's staging secret (its
// endpoint "secret"). Registered in ops by init, like RDS's.
const (
	OpGetSecretValue Op = "GetSecretValue"
	OpPutSecretValue Op = "PutSecretValue"
)

func init() {
	ops[OpGetSecretValue] = opInfo{"secretsmanager", false}
	ops[OpPutSecretValue] = opInfo{"secretsmanager", true}
}

// SecretsManager is the simulated Secrets Manager (a secret's current
// string value only).
type SecretsManager struct{ c *Cloud }

// SecretsManager returns the Secrets Manager client of the cloud.
func (c *Cloud) SecretsManager() *SecretsManager { return &SecretsManager{c} }

// secretKey names a secret by its name, whether given a name or an ARN
// ("arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf").
func secretKey(id string) string {
	if p := strings.SplitN(id, ":", 7); len(p) == 7 && p[0] == "arn" {
		id = p[6]
		if i := strings.LastIndexByte(id, '-'); i > 0 && len(id)-i == 7 {
			id = id[:i]
		}
	}
	return id
}

// AddSecret creates a secret with its current value.
func (c *Cloud) AddSecret(id, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.rdsState()
	if s.secrets == nil {
		s.secrets = map[string]string{}
	}
	s.secrets[secretKey(id)] = value
}

// Secret returns a secret's current value ("" if there is none).
func (c *Cloud) Secret(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rdsState().secrets[secretKey(id)]
}

func (m *SecretsManager) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return serve(m.c, ctx, OpGetSecretValue, in, func(in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
		id := aws.ToString(in.SecretId)
		v, ok := m.c.rdsState().secrets[secretKey(id)]
		if !ok {
			return nil, rdsErr("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		}
		return &secretsmanager.GetSecretValueOutput{Name: aws.String(secretKey(id)), SecretString: aws.String(v), VersionStages: []string{"AWSCURRENT"}}, nil
	})
}

func (m *SecretsManager) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return serve(m.c, ctx, OpPutSecretValue, in, func(in *secretsmanager.PutSecretValueInput) (*secretsmanager.PutSecretValueOutput, error) {
		id := aws.ToString(in.SecretId)
		s := m.c.rdsState()
		if _, ok := s.secrets[secretKey(id)]; !ok {
			return nil, rdsErr("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		}
		s.secrets[secretKey(id)] = aws.ToString(in.SecretString)
		return &secretsmanager.PutSecretValueOutput{Name: aws.String(secretKey(id)), VersionId: aws.String(m.c.id("version")), VersionStages: []string{"AWSCURRENT"}}, nil
	})
}
