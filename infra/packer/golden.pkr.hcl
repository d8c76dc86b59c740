# The golden image of one kaizen app: Amazon Linux 2023, the app installed
# by Ansible, then `kaizen image prepare` (advisories applied and verified,
# the secret rendered with shared/envfile, the manifest written), imaged
# into an AMI encrypted with the pipeline's KMS key and tagged for kaizen.
# Run from the repository root (see infra/buildspec/golden-ami.yml):
#   packer init infra/packer/
#   packer build -var app=shop -var kms_key_id=arn:... -var kaizen_binary=build/image/kaizen infra/packer/

variable "app" {
  type        = string
  description = "The app's name in kaizen's configuration."
}

variable "app_group" {
  type        = string
  default     = ""
  description = "The app's service group, which may read the env files; defaults to the app's name."
}

variable "region" {
  type    = string
  default = env("AWS_REGION")
}

variable "image_tag_key" {
  type    = string
  default = "kaizen:app"
}

variable "image_tag_value" {
  type        = string
  default     = ""
  description = "Defaults to the app's name."
}

variable "pipeline_tag_key" {
  type    = string
  default = "kaizen:pipeline-execution"
}

variable "pipeline_execution_id" {
  type        = string
  default     = ""
  description = "The CodePipeline execution that built the image; empty when kaizen started the build directly."
}

variable "security_advisories" {
  type        = string
  default     = "none"
  description = "ALAS advisory ids to apply (SECURITY_ADVISORIES), comma separated; kaizen image prepare checks them."
}

variable "release_version" {
  type        = string
  default     = "none"
  description = "The Amazon Linux 2023 release to upgrade to (AL2023_RELEASE_VERSION)."
}

variable "allow_missing_advisories" {
  type        = string
  default     = "false"
  description = "true builds the image even if an advisory is not installed afterwards."
}

variable "secret_id" {
  type        = string
  default     = ""
  description = "The app's secret in Secrets Manager, read on the build instance through its instance profile."
}

variable "baseline_parameter" {
  type        = string
  description = "The SSM parameter holding the app's advisory baseline (/kaizen/<app>/image-baseline)."
}

variable "instance_profile" {
  type        = string
  description = "The build instance's profile: it may read the secret and the baseline, nothing else."
}

variable "kms_key_id" {
  type        = string
  description = "The KMS key (ARN) that encrypts the AMI's snapshots."
}

variable "kaizen_binary" {
  type        = string
  description = "kaizen built for the image's architecture (linux/arm64 or linux/amd64)."
}

variable "tags_file" {
  type        = string
  default     = "image-tags.env"
  description = "Where the AMI tags kaizen image prepare printed are downloaded to."
}

variable "instance_type" {
  type    = string
  default = "t4g.small"
}

variable "architecture" {
  type        = string
  default     = "arm64"
  description = "Must match instance_type (arm64 for Graviton, x86_64 otherwise)."
}

variable "subnet_id" {
  type        = string
  default     = ""
  description = "Where the build instance runs; empty uses the default VPC."
}

locals {
  timestamp = formatdate("YYYYMMDDhhmmss", timestamp())
  tag_value = var.image_tag_value != "" ? var.image_tag_value : var.app
  app_group = var.app_group != "" ? var.app_group : var.app
  # Paths on the build instance. image_root is where kaizen image prepare
  # writes (the image itself; infra/buildfiles_test.go points it elsewhere).
  remote_kaizen = "/tmp/kaizen"
  remote_tags   = "/tmp/kaizen-image.tags"
  image_root    = "/"
  # The build role may touch only what carries this tag (see
  # infra/stacks/pipeline.go): the temporary instance, volumes, key pair,
  # security group, the intermediate and the final image.
  builder_tags = { "kaizen:builder" = var.app }
  image_tags = merge(
    local.builder_tags,
    {
      (var.image_tag_key) = local.tag_value
      "Name"              = "${var.app}-${local.timestamp}"
    },
    var.pipeline_execution_id == "" ? {} : { (var.pipeline_tag_key) = var.pipeline_execution_id },
  )
}

source "amazon-ebs" "golden" {
  region          = var.region
  ami_name        = "${var.app}-${local.timestamp}"
  ami_description = "${var.app} golden image (kaizen)"
  instance_type   = var.instance_type

  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-kernel-*-${var.architecture}"
      architecture        = var.architecture
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  ssh_username                              = "ec2-user"
  subnet_id                                 = var.subnet_id
  associate_public_ip_address               = true
  temporary_security_group_source_public_ip = true
  iam_instance_profile                      = var.instance_profile

  # IMDSv2 only, on the build instance and on every instance of the AMI.
  imds_support = "v2.0"
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  # The AMI and its snapshots are encrypted with the pipeline's key.
  encrypt_boot = true
  kms_key_id   = var.kms_key_id

  run_tags        = local.builder_tags
  run_volume_tags = local.builder_tags
  tags            = local.image_tags
  snapshot_tags   = local.image_tags
}

build {
  sources = ["source.amazon-ebs.golden"]

  # The app: the team's roles pull the code, install gems and packages,
  # precompile assets and create the app's service user and group.
  provisioner "ansible" {
    playbook_file = "${path.root}/../ansible/playbook.yml"
    user          = "ec2-user"
    use_proxy     = false
    extra_arguments = [
      "--extra-vars", jsonencode({ app = var.app, app_group = local.app_group }),
    ]
  }

  provisioner "file" {
    source      = var.kaizen_binary
    destination = local.remote_kaizen
  }

  # Last, so that it also updates what the app's roles installed. The
  # AMI tags it prints (KEY=VALUE, never a secret) are downloaded below.
  provisioner "shell" {
    environment_vars = [
      "APP=${var.app}",
      "APP_GROUP=${local.app_group}",
      "SECURITY_ADVISORIES=${var.security_advisories}",
      "AL2023_RELEASE_VERSION=${var.release_version}",
      "ALLOW_MISSING_ADVISORIES=${var.allow_missing_advisories}",
      "SECRET_ID=${var.secret_id}",
      "BASELINE_PARAMETER=${var.baseline_parameter}",
      "AWS_REGION=${var.region}",
      "KAIZEN=${local.remote_kaizen}",
      "TAGS_FILE=${local.remote_tags}",
      "IMAGE_ROOT=${local.image_root}",
    ]
    inline = [
      "chmod 0755 \"$KAIZEN\"",
      "# shellcheck disable=SC2024 # the tags file is ec2-user's: Packer downloads it as ec2-user",
      "sudo env AWS_REGION=\"$AWS_REGION\" \"$KAIZEN\" image prepare --root \"$IMAGE_ROOT\" --app \"$APP\" --group \"$APP_GROUP\" --secret-id \"$SECRET_ID\" --advisories \"$SECURITY_ADVISORIES\" --releasever \"$AL2023_RELEASE_VERSION\" --advisories-from \"ssm:$BASELINE_PARAMETER\" --advisories-to \"ssm:$BASELINE_PARAMETER\" --allow-missing=\"$ALLOW_MISSING_ADVISORIES\" > \"$TAGS_FILE\"",
      "rm -f \"$KAIZEN\"",
    ]
  }

  provisioner "file" {
    direction   = "download"
    source      = local.remote_tags
    destination = var.tags_file
  }

  post-processor "manifest" {
    output     = "packer-manifest.json"
    strip_path = true
  }
}
