"""The local cloud: runs the synthesized CDK app (cdk.out) on 127.0.0.1 with moto, no AWS account needed."""
