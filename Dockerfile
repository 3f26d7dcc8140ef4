# A Liaison node (docker-compose.yml). The base is python:3.11-slim unless PYTHON_IMAGE
# names another with python 3.11 and pip on PATH (scripts/build-standins makes one from
# Debian's packages for machines that cannot pull it).
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}
WORKDIR /app
COPY pyproject.toml README.md ./
COPY liaison ./liaison
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir -e .
EXPOSE 8000
CMD ["liaison", "serve"]
