// jsforce (npm), unchanged, through tether's proxy: instanceUrl is the connection's proxy URL
// and accessToken a tether API key. Prints one JSON line of what it saw.
import jsforce from "jsforce";

const conn = new jsforce.Connection({
  instanceUrl: process.env.TETHER_INSTANCE_URL,
  accessToken: process.env.TETHER_API_KEY,
  version: "64.0",
});

async function bulkQuery(soql) {
  const stream = await conn.bulk.query(soql);
  return new Promise((resolve, reject) => {
    const records = [];
    stream
      .on("record", (r) => records.push(r))
      .on("error", reject)
      .on("end", () => resolve(records));
  });
}

const result = await conn.query("SELECT Id, Name FROM Account");
const first = result.records[0];
const update = await conn.sobject("Account").update({ Id: first.Id, Name: "Updated by jsforce" });
const after = await conn.sobject("Account").retrieve(first.Id);
const described = await conn.sobject("Account").describe();
const created = await conn.sobject("Contact").create({ LastName: "From jsforce" });
const bulk = await bulkQuery("SELECT Id, Name FROM Account");
console.log(JSON.stringify({
  total: result.totalSize,
  update_success: update.success,
  name_after: after.Name,
  describe_name: described.name,
  created_success: created.success,
  bulk_total: bulk.length,
}));
