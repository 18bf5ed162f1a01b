"""simple-salesforce's Bulk API 1.0 query against the sandbox, straight (no tether).

Run by the Rust test `bulk::simple_salesforce_bulk_query_reads_the_same_records_as_rest` with
SANDBOX_URL (http://127.0.0.1:PORT) and SANDBOX_SESSION (an access token). simple-salesforce
always builds https:// URLs from the instance; the sandbox serves plain HTTP on loopback, so
the script points the library's bulk URL at it. Everything else (paths, the X-SFDC-Session
header, JSON job bodies, polling, result fetching) is the library's own code, unchanged.
Prints the records as JSON.
"""

import json
import os
import sys

from simple_salesforce import Salesforce


def main():
    base = os.environ["SANDBOX_URL"]
    sf = Salesforce(
        instance_url=base,
        session_id=os.environ["SANDBOX_SESSION"],
        version="64.0",
    )
    sf.bulk_url = f"{base}/services/async/{sf.sf_version}/"
    records = sf.bulk.Account.query("SELECT Id, Name FROM Account ORDER BY Name")
    json.dump(records, sys.stdout)


if __name__ == "__main__":
    main()
