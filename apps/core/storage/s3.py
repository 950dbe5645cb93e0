"""S3 object storage through django-storages/boto3: path-style, private objects, presigned URLs.

Presigned PUTs sign content type, length and metadata (so a client cannot change them); no ACL is ever sent.
boto3 is blocking: async callers go through ``asyncio.to_thread`` (the package's ``a*`` helpers).
"""

from __future__ import annotations

import time
from typing import Any, BinaryIO

from apps.core.errors import NotFound
from apps.core.storage.base import (
    ObjectChanged,
    ObjectInfo,
    PresignedRequest,
    StorageUnavailable,
    count_operation,
    validate_key,
)


class S3ObjectStorage:
    """S3 through django-storages' ``S3Storage`` (its boto3 client does the signing)."""

    backend = "s3"

    def __init__(self, cfg: Any) -> None:
        from storages.backends.s3 import S3Storage

        self.bucket_name = cfg.s3_bucket
        self.store = S3Storage(
            bucket_name=cfg.s3_bucket,
            endpoint_url=cfg.s3_endpoint,
            region_name=cfg.s3_region,
            access_key=cfg.s3_access_key,
            secret_key=cfg.s3_secret_key,
            addressing_style="path",
            signature_version="s3v4",
            default_acl=None,
            querystring_auth=True,
            file_overwrite=True,
        )
        self.client = self.store.connection.meta.client

    def _call(self, op: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            result = func(*args, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                count_operation(op, "not_found")
                raise NotFound("object not found") from exc
            if code in ("412", "PreconditionFailed"):
                count_operation(op, "changed")
                raise ObjectChanged() from exc
            count_operation(op, "error")
            raise StorageUnavailable() from exc
        except BotoCoreError as exc:
            count_operation(op, "error")
            raise StorageUnavailable() from exc
        count_operation(op, "ok")
        return result

    def presigned_put(
        self, key: str, *, content_type: str, size_bytes: int, metadata: dict[str, str], expires_s: int
    ) -> PresignedRequest:
        params = {
            "Bucket": self.bucket_name,
            "Key": validate_key(key),
            "ContentType": content_type,
            "ContentLength": size_bytes,
            "Metadata": metadata,
        }
        url = self._call(
            "presign_put", self.client.generate_presigned_url, "put_object", Params=params, ExpiresIn=expires_s
        )
        headers = {"Content-Type": content_type, **{f"x-amz-meta-{k}": v for k, v in metadata.items()}}
        return PresignedRequest(url, "PUT", headers, (int(time.time()) + expires_s) * 1000)

    def presigned_get(self, key: str, *, expires_s: int) -> str:
        params = {"Bucket": self.bucket_name, "Key": validate_key(key)}
        return self._call(
            "presign_get", self.client.generate_presigned_url, "get_object", Params=params, ExpiresIn=expires_s
        )

    def open_stream(self, key: str) -> BinaryIO:
        # The raw StreamingBody: read(n) pulls n bytes from the socket (django-storages' File would
        # download the whole object first).
        response = self._call("open", self.client.get_object, Bucket=self.bucket_name, Key=validate_key(key))
        return response["Body"]

    def head(self, key: str) -> ObjectInfo | None:
        try:
            response = self._call("head", self.client.head_object, Bucket=self.bucket_name, Key=validate_key(key))
        except NotFound:
            return None
        return ObjectInfo(
            int(response["ContentLength"]), response.get("ContentType", ""), dict(response.get("Metadata") or {})
        )

    def delete(self, key: str) -> None:
        self._call("delete", self.client.delete_object, Bucket=self.bucket_name, Key=validate_key(key))

    def put_bytes(self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str]) -> None:
        self._call(
            "put",
            self.client.put_object,
            Bucket=self.bucket_name,
            Key=validate_key(key),
            Body=data,
            ContentType=content_type,
            Metadata=metadata,
        )

    def put_stream(self, key: str, stream: BinaryIO, *, size: int, content_type: str, metadata: dict[str, str]) -> None:
        """boto3's ``upload_fileobj`` streams in parts (multipart above its threshold), never the whole body."""
        self._call(
            "put",
            self.client.upload_fileobj,
            stream,
            self.bucket_name,
            validate_key(key),
            ExtraArgs={"ContentType": content_type, "Metadata": metadata},
        )

    def open_pinned(self, key: str) -> tuple[BinaryIO, str]:
        response = self._call("open", self.client.get_object, Bucket=self.bucket_name, Key=validate_key(key))
        return response["Body"], response["ETag"]

    def _copy_object(self, src: str, dst: str, if_version: str | None) -> None:
        extra = {"CopySourceIfMatch": if_version} if if_version is not None else {}
        self.client.copy_object(
            Bucket=self.bucket_name,
            Key=validate_key(dst),
            CopySource={"Bucket": self.bucket_name, "Key": validate_key(src)},
            MetadataDirective="COPY",
            **extra,
        )

    def copy(self, src: str, dst: str, *, if_version: str | None = None) -> None:
        """CopyObject (server-side, metadata kept); ``CopySourceIfMatch`` pins the ETag that was read."""
        self._call("copy", self._copy_object, src, dst, if_version)

    def move(self, src: str, dst: str) -> None:
        """CopyObject then DeleteObject: a PUT that lands in between is deleted, one after it is never read."""

        def move() -> None:
            self._copy_object(src, dst, None)
            self.client.delete_object(Bucket=self.bucket_name, Key=validate_key(src))

        self._call("move", move)
