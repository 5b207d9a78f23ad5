// Running the schema history (provisioner/schema.h) on a connection.
#pragma once

#include "db.h"
#include "provisioner/schema.h"

namespace darasa::migrations {

// The version a database has (0: none yet). kInvalid when it holds tables of
// some other program and no darasa schema.
Result<int> currentVersion(sql::Db& db);

// Brings the schema to Store::kSchemaVersion, one transaction per step (a
// failure leaves the database at the previous version). Safe when several
// processes open the same state at once: each step re-reads the version
// under the writer lock.
Status migrate(sql::Db& db);

}  // namespace darasa::migrations
