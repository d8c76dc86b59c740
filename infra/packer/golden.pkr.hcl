# The golden image of one kaizen app: Amazon Linux 2023, the listed ALAS
# advisories applied, the app installed, tagged so kaizen can find it.
# Run from the repository root (see infra/buildspec/golden-ami.yml):
#   packer init infra/packer/golden.pkr.hcl
#   packer build -var app=shop -var region=eu-west-1 infra/packer/golden.pkr.hcl

packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = "~> 1.3"
    }
    ansible = {
      source  = "github.com/hashicorp/ansible"
      version = "~> 1.1"
    }
  }
}

variable "app" {
  type        = string
  description = "The app's name in kaizen's configuration."
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
  default     = ""
  description = "Space-separated ALAS advisory ids, each applied with yum update -y --advisory=<ID>."
}

variable "secrets_file" {
  type        = string
  default     = ""
  description = "A JSON object of the app's secrets (on the build host), rendered into /etc/profile.d."
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
  timestamp  = formatdate("YYYYMMDDhhmmss", timestamp())
  tag_value  = var.image_tag_value != "" ? var.image_tag_value : var.app
  advisories = compact(split(" ", var.security_advisories))
  image_tags = merge(
    {
      (var.image_tag_key) = local.tag_value
      "Name"              = "${var.app}-${local.timestamp}"
      # Tag values are limited to 256 characters.
      "kaizen:advisories" = substr(join(" ", local.advisories), 0, 255)
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

  imds_support = "v2.0"
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  # The build role may stop and terminate only instances with this tag.
  run_tags        = { "kaizen:builder" = var.app }
  run_volume_tags = { "kaizen:builder" = var.app }

  tags          = local.image_tags
  snapshot_tags = local.image_tags
}

build {
  sources = ["source.amazon-ebs.golden"]

  provisioner "ansible" {
    playbook_file = "${path.root}/../ansible/playbook.yml"
    user          = "ec2-user"
    use_proxy     = false
    # JSON extra vars: no shell or YAML quoting between here and Ansible.
    extra_arguments = [
      "--extra-vars", jsonencode({
        app                 = var.app
        security_advisories = local.advisories
        secrets_file        = var.secrets_file
      }),
    ]
  }

  post-processor "manifest" {
    output     = "packer-manifest.json"
    strip_path = true
  }
}
