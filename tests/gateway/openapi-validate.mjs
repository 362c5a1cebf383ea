// Validates an OpenAPI document (a file path, or stdin) against the official OpenAPI schema of its version.
// Prints "VALID openapi=<version>" and exits 0, or prints the errors and exits 1.
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";

const source = process.argv[2] ? readFileSync(process.argv[2], "utf8") : readFileSync(0, "utf8");
const document = JSON.parse(source);
const result = await new Validator().validate(document);
if (result.valid) {
  console.log(`VALID openapi=${document.openapi}`);
} else {
  console.log("INVALID");
  console.log(JSON.stringify(result.errors, null, 2));
  process.exit(1);
}
