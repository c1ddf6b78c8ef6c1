"""Demo databases: RDS, Redshift, ElastiCache, DynamoDB and DAX per profile.

Everything is created in the account's first region only: none of the
database controls is a per-region setting. Profiles:

- security: every database control passes, except that no Redshift cluster
  is created there: the simulator cannot set require_ssl, so a cluster could
  not be compliant.
- prod: mostly good, with the gaps a busy team leaves (a MySQL instance with
  short backups and no IAM authentication, no Multi-AZ cache, a table
  without point-in-time recovery).
- management: a Terraform state-lock table.
- dev and sandbox: public, unencrypted, unprotected databases.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from demo.seed import _Account

PASSWORD = "demo-only-not-a-secret"  # noqa: S105 - moto stores and ignores it
AUTH_TOKEN = "demo-only-auth-token-0123"  # noqa: S105 - as above
GOOD = frozenset({"security", "prod"})
# An account outside the organization that prod shares a snapshot with.
ANALYTICS_ACCOUNT = "444455556666"


def seed(account: "_Account", profile: str, region: str) -> None:
    if region != account.regions[0]:
        return
    if profile == "management":
        _table(account, region, "terraform-locks", pitr=True, kms=True)
        return
    good = profile in GOOD
    _rds(account, region, profile, good)
    if profile != "security":
        _redshift(account, region, good)
    _elasticache(account, region, profile, good)
    _dynamodb(account, region, profile, good)


# -- RDS ----------------------------------------------------------------------


def _security_group(account: "_Account", region: str, name: str, cidr: str) -> str:
    ec2 = account.client("ec2", region)
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])
    group_id = ec2.create_security_group(
        GroupName=name,
        Description=f"{name} database access",
        VpcId=vpcs["Vpcs"][0]["VpcId"],
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "IpRanges": [{"CidrIp": cidr}],
            }
        ],
    )
    return group_id


def _parameter_group(rds: Any, name: str, family: str, parameter: str, value: str):
    rds.create_db_parameter_group(
        DBParameterGroupName=name, DBParameterGroupFamily=family, Description=name
    )
    rds.modify_db_parameter_group(
        DBParameterGroupName=name,
        Parameters=[
            {
                "ParameterName": parameter,
                "ParameterValue": value,
                "ApplyMethod": "pending-reboot",
            }
        ],
    )


def _instance(rds: Any, name: str, engine: str, **kwargs: Any) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine=engine,
        DBInstanceClass="db.t3.medium",
        AllocatedStorage=50,
        MasterUsername="app_admin",
        MasterUserPassword=PASSWORD,
        Tags=[{"Key": "service", "Value": name}],
        **kwargs,
    )


def _rds(account: "_Account", region: str, profile: str, good: bool) -> None:
    rds = account.client("rds", region)
    if good:
        private = _security_group(account, region, "orders-db", "10.0.0.0/16")
        _parameter_group(rds, "postgres-tls", "postgres16", "rds.force_ssl", "1")
        _instance(
            rds,
            "orders-db",
            "postgres",
            DBParameterGroupName="postgres-tls",
            StorageEncrypted=True,
            MultiAZ=True,
            BackupRetentionPeriod=14,
            DeletionProtection=True,
            EnableIAMDatabaseAuthentication=True,
            EnableCloudwatchLogsExports=["postgresql", "upgrade"],
            PubliclyAccessible=False,
            AutoMinorVersionUpgrade=True,
            VpcSecurityGroupIds=[private],
        )
        rds.create_db_snapshot(
            DBSnapshotIdentifier="orders-db-before-migration",
            DBInstanceIdentifier="orders-db",
        )
    if profile == "prod":
        # Encrypted and private, but backups, IAM auth and logs were skipped.
        _parameter_group(rds, "mysql-tls", "mysql8.0", "require_secure_transport", "1")
        _instance(
            rds,
            "billing-db",
            "mysql",
            DBParameterGroupName="mysql-tls",
            StorageEncrypted=True,
            MultiAZ=True,
            BackupRetentionPeriod=3,
            DeletionProtection=True,
            EnableCloudwatchLogsExports=["error"],
            PubliclyAccessible=False,
            AutoMinorVersionUpgrade=True,
            VpcSecurityGroupIds=[private],
        )
        rds.modify_db_snapshot_attribute(
            DBSnapshotIdentifier="orders-db-before-migration",
            AttributeName="restore",
            ValuesToAdd=[ANALYTICS_ACCOUNT],  # shared, not public
        )
    if not good:
        public = _security_group(account, region, "scratch-db", "0.0.0.0/0")
        _parameter_group(
            rds, "mysql-plain", "mysql8.0", "require_secure_transport", "0"
        )
        _instance(
            rds,
            "scratch-db",
            "mysql",
            DBParameterGroupName="mysql-plain",
            StorageEncrypted=False,
            MultiAZ=False,
            BackupRetentionPeriod=1,
            DeletionProtection=False,
            PubliclyAccessible=True,
            AutoMinorVersionUpgrade=False,
            VpcSecurityGroupIds=[public],
        )
        rds.create_db_snapshot(
            DBSnapshotIdentifier="scratch-db-export", DBInstanceIdentifier="scratch-db"
        )
        rds.modify_db_snapshot_attribute(
            DBSnapshotIdentifier="scratch-db-export",
            AttributeName="restore",
            ValuesToAdd=["all"],
        )


# -- Redshift -----------------------------------------------------------------


def _redshift(account: "_Account", region: str, good: bool) -> None:
    redshift = account.client("redshift", region)
    redshift.create_cluster(
        ClusterIdentifier="analytics",
        NodeType="ra3.xlplus",
        ClusterType="single-node",
        MasterUsername="analyst",
        MasterUserPassword="Demo-only-1",
        Encrypted=good,
        PubliclyAccessible=not good,
        EnhancedVpcRouting=False,
        AutomatedSnapshotRetentionPeriod=7 if good else 1,
        Tags=[{"Key": "service", "Value": "analytics"}],
    )
    if good:
        redshift.enable_logging(
            ClusterIdentifier="analytics",
            LogDestinationType="cloudwatch",
            LogExports=["connectionlog", "userlog", "useractivitylog"],
        )


# -- ElastiCache --------------------------------------------------------------


def _elasticache(account: "_Account", region: str, profile: str, good: bool) -> None:
    elasticache = account.client("elasticache", region)
    if good:
        subnets = account.client("ec2", region).describe_subnets(
            Filters=[{"Name": "default-for-az", "Values": ["true"]}]
        )["Subnets"]
        elasticache.create_cache_subnet_group(
            CacheSubnetGroupName="cache-private",
            CacheSubnetGroupDescription="private cache subnets",
            SubnetIds=[s["SubnetId"] for s in subnets[:2]],
        )
        elasticache.create_replication_group(
            ReplicationGroupId="sessions",
            ReplicationGroupDescription="web sessions",
            Engine="redis",
            CacheNodeType="cache.t3.small",
            NumCacheClusters=2,
            CacheSubnetGroupName="cache-private",
            # prod runs without a standby in another AZ.
            AutomaticFailoverEnabled=profile == "security",
            MultiAZEnabled=profile == "security",
            AtRestEncryptionEnabled=True,
            TransitEncryptionEnabled=True,
            AuthToken=AUTH_TOKEN,
            SnapshotRetentionLimit=7,
        )
        elasticache.create_cache_cluster(
            CacheClusterId="page-cache",
            Engine="memcached",
            CacheNodeType="cache.t3.small",
            NumCacheNodes=1,
            CacheSubnetGroupName="cache-private",
            TransitEncryptionEnabled=True,
        )
        return
    elasticache.create_replication_group(
        ReplicationGroupId="scratch-cache",
        ReplicationGroupDescription="experiments",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=1,
    )
    elasticache.create_cache_cluster(
        CacheClusterId="scratch-memcached",
        Engine="memcached",
        CacheNodeType="cache.t3.micro",
        NumCacheNodes=1,
    )


# -- DynamoDB and DAX ---------------------------------------------------------


def _table(
    account: "_Account",
    region: str,
    name: str,
    *,
    pitr: bool = False,
    kms: bool = False,
    protected: bool = False,
) -> None:
    dynamodb = account.client("dynamodb", region)
    extra: dict[str, Any] = {}
    if kms:
        extra["SSESpecification"] = {"Enabled": True, "SSEType": "KMS"}
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        DeletionProtectionEnabled=protected,
        Tags=[{"Key": "service", "Value": name}],
        **extra,
    )
    if pitr:
        dynamodb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )


def _dynamodb(account: "_Account", region: str, profile: str, good: bool) -> None:
    if good:
        _table(account, region, "orders", pitr=True, kms=True, protected=True)
    if profile == "prod":
        _table(account, region, "feature-flags", kms=True, protected=True)
    if not good:
        _table(account, region, "scratch-events")
    dax = account.client("dax", region)
    encrypted = profile == "security"
    dax.create_cluster(
        ClusterName="orders-cache" if good else "scratch-cache",
        NodeType="dax.t3.small",
        ReplicationFactor=1,
        IamRoleArn=f"arn:aws:iam::{account.id}:role/dax-access",
        SSESpecification={"Enabled": good},
        ClusterEndpointEncryptionType="TLS" if encrypted else "NONE",
    )
