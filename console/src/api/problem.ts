// RFC 9457 problem details as the API returns them: the TypeScript client package's typed error.
export { ApiError, expectNoContent, unwrap, type Problem } from "@reelstream/client";
