# The plugins golden.pkr.hcl needs; `packer init infra/packer/` installs
# them. Kept apart from the build so that the offline check in
# infra/buildfiles_test.go can validate golden.pkr.hcl with a Packer that
# predates required_plugins (Debian's packer 1.6.6).
packer {
  required_version = ">= 1.10.0"
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
