FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY liaison ./liaison
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir -e .
EXPOSE 8000
CMD ["liaison", "serve"]
